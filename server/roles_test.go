package server

import (
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// TestEveryRPCHasRoles fails when an RPC is added without an entry in rpcRoles.
func TestEveryRPCHasRoles(t *testing.T) {
	n := 0
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if len(fd.Package()) < 10 || fd.Package()[:10] != "potential." {
			return true
		}
		for i := 0; i < fd.Services().Len(); i++ {
			ms := fd.Services().Get(i).Methods()
			for j := 0; j < ms.Len(); j++ {
				proc := "/" + string(ms.Get(j).Parent().FullName()) + "/" + string(ms.Get(j).Name())
				n++
				if len(rpcRoles[proc]) == 0 {
					t.Errorf("%s has no entry in rpcRoles", proc)
				}
			}
		}
		return true
	})
	if n == 0 {
		t.Fatal("no RPCs registered")
	}
}
