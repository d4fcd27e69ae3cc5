package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCachedBTF(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	data := []byte("pretend BTF")
	sum := sha256Hex(data)
	fetches := 0
	fetch := func() ([]byte, error) { fetches++; return data, nil }
	for range 2 {
		got, err := cachedBTF(sum, fetch)
		if err != nil || string(got) != string(data) {
			t.Fatalf("cachedBTF = %q, %v", got, err)
		}
	}
	if fetches != 1 {
		t.Errorf("fetched %d times, want once", fetches)
	}
	// A damaged cache entry is fetched again, not believed.
	dir, _ := os.UserCacheDir()
	os.WriteFile(filepath.Join(dir, "waggle", "btf", sum+".btf"), []byte("damaged"), 0o644)
	if got, err := cachedBTF(sum, fetch); err != nil || string(got) != string(data) || fetches != 2 {
		t.Errorf("after damage: %q, %v, %d fetches", got, err, fetches)
	}
	// What arrives must be what was announced.
	if _, err := cachedBTF(sha256Hex([]byte("other")), fetch); err == nil || !strings.Contains(err.Error(), "not the") {
		t.Errorf("a mismatched download: %v", err)
	}
	if _, err := cachedBTF(sha256Hex([]byte("x")), func() ([]byte, error) { return nil, errors.New("gone") }); err == nil || err.Error() != "gone" {
		t.Errorf("a failed download: %v", err)
	}
}
