import { describe, expect, it } from 'vitest';
import { kubeadmImages } from './kube-images.js';

describe('kubeadmImages', () => {
  it('lists what `kubeadm config images list --kubernetes-version v1.36.3` prints, without etcd', () => {
    const expected = [
      'registry.k8s.io/kube-apiserver:v1.36.3',
      'registry.k8s.io/kube-controller-manager:v1.36.3',
      'registry.k8s.io/kube-scheduler:v1.36.3',
      'registry.k8s.io/kube-proxy:v1.36.3',
      'registry.k8s.io/coredns/coredns:v1.14.2',
      'registry.k8s.io/pause:3.10.2',
    ];
    expect(kubeadmImages('1.36.3')).toEqual(expected);
    expect(kubeadmImages('v1.36.3')).toEqual(expected);
  });

  it('refuses a minor it does not know instead of guessing', () => {
    expect(kubeadmImages('1.30.4')).toBeNull();
    expect(kubeadmImages('not-a-version')).toBeNull();
  });
});
