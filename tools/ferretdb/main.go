// Command ferretdb runs FerretDB v1 (MongoDB wire protocol over SQLite) for session-stores' tests.
//
// Why not `go build github.com/FerretDB/FerretDB/cmd/ferretdb`: that binary panics at start, because its
// build/version/version.txt is generated upstream and missing from the published module (FerretDB issue
// #2982), and the module cache cannot be overlaid. The embeddable package has no such check, so this wrapper
// starts the same server through it. Its flags are the subset of upstream's that test/servers passes, so an
// upstream binary given via FERRETDB_BIN works the same way.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/FerretDB/FerretDB/build/version"
	"github.com/FerretDB/FerretDB/ferretdb"
)

const upstream = "github.com/FerretDB/FerretDB"

// ferretVersion is the pinned module version (go.mod), so the tests can report what they run against.
func ferretVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == upstream {
				return d.Version
			}
		}
	}
	return "unknown"
}

func main() {
	handler := flag.String("handler", "sqlite", "backend handler: sqlite or postgresql")
	sqliteURL := flag.String("sqlite-url", "file:data/", "SQLite URI (an existing directory)")
	pgURL := flag.String("postgresql-url", "", "PostgreSQL URL for the postgresql handler")
	listen := flag.String("listen-addr", "127.0.0.1:27017", "TCP listen address")
	unix := flag.String("listen-unix", "", "Unix socket path")
	logLevel := flag.String("log-level", "warn", "debug, info, warn or error")
	showVersion := flag.Bool("version", false, "print version and exit")
	// Accepted for command-line compatibility with upstream; the embeddable server has no state,
	// no debug handler and no telemetry.
	flag.String("state-dir", "", "ignored")
	flag.String("debug-addr", "", "ignored")
	flag.String("telemetry", "", "ignored")
	flag.Parse()

	if *showVersion {
		fmt.Printf("version: %s\n", ferretVersion())
		return
	}

	// Die with the process that started us: a crashed test runner must not leave servers behind.
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0)
	if os.Getppid() == 1 {
		os.Exit(1)
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(*logLevel))); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	// buildInfo then reports the real version ("unknown" otherwise), so clients can tell what they talk to.
	version.Get().Version = ferretVersion()

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: *listen, Unix: *unix},
		Logger:        logger,
		Handler:       *handler,
		SQLiteURL:     *sqliteURL,
		PostgreSQLURL: *pgURL,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := f.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
