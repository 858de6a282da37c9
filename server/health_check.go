package server

import (
	"context"
	"log/slog"
	"time"
)

// WatchReadiness keeps the health status of both ports in step with the
// store: every interval it calls ping (with the interval as its timeout) and
// reports SERVING after a ping succeeds, NOT_SERVING after one fails, so load
// balancers stop sending calls while the database is unreachable and resume
// once it is back. It returns when ctx ends, leaving the status as it was;
// shut down by cancelling ctx, waiting for WatchReadiness to return, then
// calling SetServing(false).
func (s *Server) WatchReadiness(ctx context.Context, ping func(context.Context) error, interval time.Duration, log *slog.Logger) {
	if log == nil {
		log = slog.Default()
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	serving := s.checker.serving.Load()
	for {
		pctx, cancel := context.WithTimeout(ctx, interval)
		err := ping(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if ok := err == nil; ok != serving {
			serving = ok
			s.SetServing(ok)
			if ok {
				log.Info("store reachable again: serving")
			} else {
				log.Warn("store unreachable: not serving", "error", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
