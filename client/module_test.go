package client_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportableFromAnotherModule builds a program in a module of its own
// that imports the client and the generated packages, as another team's
// code would: nothing it needs may be internal to this module.
func TestImportableFromAnotherModule(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go build")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	gosum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	// The same requirements as this module (so nothing is fetched), plus
	// this module itself, from here.
	mod := strings.Replace(string(gomod), "module github.com/potentialhq/potential", "module example.com/consumer", 1) +
		"\nrequire github.com/potentialhq/potential v0.0.0\n\nreplace github.com/potentialhq/potential => " + root + "\n"
	dir := t.TempDir()
	for name, data := range map[string]string{
		"go.mod": mod,
		"go.sum": string(gosum),
		"main.go": `package main

import (
	"context"
	"fmt"

	"github.com/potentialhq/potential/client"
	customerv1 "github.com/potentialhq/potential/gen/go/potential/customer/v1"
	_ "github.com/potentialhq/potential/gen/go/potential/customer/v1/customerv1connect"
	scoringv1 "github.com/potentialhq/potential/gen/go/potential/scoring/v1"
	_ "github.com/potentialhq/potential/gen/go/potential/scoring/v1/scoringv1connect"
)

func main() {
	c := client.New("http://localhost:8080", "pk_x_0123456789abcdef")
	for cu, err := range c.AllCustomers(context.Background(), &customerv1.ListCustomersRequest{}) {
		fmt.Println(cu, err)
		break
	}
	_ = scoringv1.ChurnLevel_CHURN_LEVEL_HIGH
}
`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "build", "-mod=mod", "-o", filepath.Join(dir, "consumer"), ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("another module cannot build against the SDK: %v\n%s", err, out)
	}
}
