package workflows

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// HoursPerMonth is AWS's month for pricing storage by the GB-month.
const HoursPerMonth = 730

// PriceCacheTTL is how long a price from the Price List API is trusted.
const PriceCacheTTL = 24 * time.Hour

// Estimator prices templates: the instance's on-demand hourly price from
// the PriceSource, cached in the store for a day, with the config's price
// table as the fallback when the API cannot be reached; plus the root
// volume.
type Estimator struct {
	Source  PriceSource // may be nil: the fallback table alone is used
	Store   Store
	Clock   Clock
	Pricing Pricing
	Log     *slog.Logger
	// Timeout bounds one Price List call, so a slow API cannot hold up a
	// Slack reply past its 3 seconds. Default 1.5s.
	Timeout time.Duration
}

// Quote is the price of running a template for an hour.
type Quote struct {
	Instance Money  // on-demand compute per hour
	Volume   Money  // root volume per hour
	Source   string // "price list", "cache" or "config"
}

// Hourly is the total per hour.
func (q Quote) Hourly() Money { return q.Instance + q.Volume }

// For returns the cost of running for d.
func (q Quote) For(d time.Duration) Money { return q.Hourly().For(d.Hours()) }

// Quote prices tpl.
func (e *Estimator) Quote(ctx context.Context, tpl *Template) (Quote, error) {
	inst, src, err := e.instancePrice(ctx, tpl.Region, tpl.InstanceType)
	if err != nil {
		return Quote{}, err
	}
	vol := e.Pricing.VolumePerGBMonth.For(float64(tpl.RootVolumeGB) / HoursPerMonth)
	return Quote{Instance: inst, Volume: vol, Source: src}, nil
}

func priceKey(region, instanceType string) string {
	return "ec2:" + region + ":" + instanceType
}

func (e *Estimator) instancePrice(ctx context.Context, region, typ string) (Money, string, error) {
	now := e.Clock.Now()
	key := priceKey(region, typ)
	var cached Money
	var hit bool
	if err := e.Store.View(ctx, func(tx Tx) (err error) {
		cached, hit, err = tx.CachedPrice(key, now.Add(-PriceCacheTTL))
		return err
	}); err != nil {
		return 0, "", fmt.Errorf("read cached price %s: %w", key, err)
	}
	if hit {
		return cached, "cache", nil
	}
	if e.Source != nil {
		p, err := e.fetch(ctx, region, typ)
		if err == nil {
			return p, "price list", nil
		}
		e.Log.WarnContext(ctx, "price list unavailable, using the config's price table", "region", region, "type", typ, "err", err)
	}
	if p, ok := e.Pricing.Hourly[region][typ]; ok {
		return p, "config", nil
	}
	return 0, "", Errorf(EInvalid, "opsbot has no price for %s in %s: the Price List API did not answer and the config's pricing table has no entry", typ, region)
}

func (e *Estimator) fetch(ctx context.Context, region, typ string) (Money, error) {
	timeout := e.Timeout
	if timeout <= 0 {
		timeout = 1500 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	p, err := e.Source.HourlyPrice(ctx, region, typ)
	if err != nil {
		return 0, err
	}
	at := e.Clock.Now()
	if err := e.Store.Update(WithoutIntake(ctx), func(tx Tx) error { return tx.PutPrice(priceKey(region, typ), p, at) }); err != nil {
		e.Log.WarnContext(ctx, "cache price", "err", err)
	}
	return p, nil
}

// Warm fetches and caches the price of every template, so the first
// request of the day does not wait for the Price List API.
func (e *Estimator) Warm(ctx context.Context, templates []*Template) {
	for _, t := range templates {
		if _, err := e.Quote(ctx, t); err != nil {
			e.Log.WarnContext(ctx, "warm price", "template", t.Name, "err", err)
		}
	}
}
