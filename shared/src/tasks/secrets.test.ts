import { describe, expect, it } from 'vitest';
import { hideSecretDiff, REDACTED, redactYamlValues, SECRET_DIFF } from './secrets.js';

describe('secret hiding', () => {
  it('hides a whole diff in one wording, and leaves no diff as none', () => {
    expect(hideSecretDiff('--- a\n+++ b\n+key: s3cret\n')).toBe(SECRET_DIFF);
    expect(SECRET_DIFF).toBe('(diff hidden: the task writes secret material)\n');
    expect(hideSecretDiff('')).toBe('');
  });

  it('redacts the values of the named YAML keys only, keeping indentation and list dashes', () => {
    const text = '  - token: a.b\ncertificateKey: "x"\ntokenTTL: 1h\nname: token\nempty:\n';
    expect(redactYamlValues(text, ['token', 'certificateKey', 'empty'])).toBe(
      `  - token: ${REDACTED}\ncertificateKey: ${REDACTED}\ntokenTTL: 1h\nname: token\nempty:\n`,
    );
  });

  it('treats key names literally and changes nothing without keys', () => {
    expect(redactYamlValues('a.b: 1\naxb: 2\n', ['a.b'])).toBe(`a.b: ${REDACTED}\naxb: 2\n`);
    expect(redactYamlValues('token: x\n', [])).toBe('token: x\n');
  });
});
