module ballast.invalid/upstream/pause

go 1.26.0
