// Command potential is the Potential service and its tools in one binary:
//
//	potential serve     run the API (gRPC, Connect, gRPC-Web)
//	potential migrate   apply the PostgreSQL migrations
//	potential keys      create, list and revoke API keys in the database
//	potential version   print the version
//
// Every flag can also be set through the environment variable named in its
// help (POTENTIAL_…); a flag on the command line wins. Exit codes: 0 success,
// 1 failure, 2 usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// errUsage marks errors that should exit with code 2.
var errUsage = errors.New("usage")

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "run the API server", runServe},
		{"migrate", "apply PostgreSQL migrations and exit", runMigrate},
		{"keys", "create, list and revoke API keys in a PostgreSQL database", runKeys},
		{"import", "import a CSV file of customers, transactions or interactions through the API", runImport},
		{"demo", "generate a realistic demo tenant and load it through the API", runDemo},
		{"bench", "benchmark the service against PostgreSQL itself on a database of its own", runBench},
		{"version", "print the version", func(_ context.Context, _ []string, out, _ io.Writer) error {
			_, err := fmt.Fprintln(out, "potential", version)
			return err
		}},
	}
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(ctx, args[1:], stdout, stderr)
			switch {
			case err == nil, errors.Is(err, flag.ErrHelp):
				return 0
			case errors.Is(err, errUsage):
				fmt.Fprintln(stderr, "potential:", err)
				return 2
			case errors.Is(err, errPartial):
				fmt.Fprintln(stderr, "potential:", err)
				return 3
			default:
				fmt.Fprintln(stderr, "potential:", err)
				return 1
			}
		}
	}
	fmt.Fprintf(stderr, "potential: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Potential assesses the potential of every customer and lead in a CRM.")
	fmt.Fprintln(w, "\nUsage: potential <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'potential <command> --help' for the flags of a command.")
	fmt.Fprintln(w, "Exit codes: 0 success, 1 failure, 2 usage error, 3 import finished with rejected rows.")
}

// flagSet makes a FlagSet whose flags default to POTENTIAL_* environment variables.
func flagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// env returns the environment variable for a flag name: --http-addr → POTENTIAL_HTTP_ADDR.
func env(flagName string) string {
	return "POTENTIAL_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parse parses args, filling flags not given on the command line from the environment.
func parse(fs *flag.FlagSet, args []string) error { return parseWithArgs(fs, args, 0) }

// parseWithArgs is parse for commands that take exactly nargs positional arguments.
func parseWithArgs(fs *flag.FlagSet, args []string, nargs int) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() != nargs {
		if nargs == 0 {
			return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
		}
		return fmt.Errorf("%w: want %d argument(s), got %d", errUsage, nargs, fs.NArg())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		if v, ok := os.LookupEnv(env(f.Name)); ok {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%w: %s=%q: %v", errUsage, env(f.Name), v, e)
			}
		}
	})
	return err
}

// describe appends the environment variable to a flag's usage text.
func describe(name, text string) string { return fmt.Sprintf("%s (env %s)", text, env(name)) }
