package op

import "time"

// Timings are durations of a provider's configuration with the defaults
// applied, for what acts beside the provider on the same storage (the
// oidcd console rotating, retiring and deleting keys; editing clients).
type Timings struct {
	IDTokenExpire  time.Duration
	TokenExpire    time.Duration
	KeyRefresh     time.Duration
	JWKSMaxAge     time.Duration
	ClientCacheTTL time.Duration
}

// Timings returns the provider's effective Timings.
func (p *Provider) Timings() Timings {
	return Timings{
		IDTokenExpire:  p.cfg.IDTokenExpire,
		TokenExpire:    p.cfg.TokenExpire,
		KeyRefresh:     p.cfg.KeyRefresh,
		JWKSMaxAge:     p.cfg.JWKSMaxAge,
		ClientCacheTTL: p.cfg.ClientCacheTTL,
	}
}
