package memstore_test

import (
	"testing"

	"github.com/oidcd/oidcd/storage"
	"github.com/oidcd/oidcd/storage/memstore"
	"github.com/oidcd/oidcd/storage/storagetest"
)

func TestProviderSuite(t *testing.T) {
	storagetest.RunProvider(t, func(t *testing.T) storage.Provider { return memstore.New() })
}
