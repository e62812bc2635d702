package config

import (
	"regexp"

	"gopkg.in/yaml.v3"

	"github.com/opsbot/opsbot/workflows"
)

// DefaultVolumePerGBMonth is the price of a GB-month of root volume when
// pricing.volume_per_gb_month_usd is not given: EBS gp3 in us-east-1.
const DefaultVolumePerGBMonth = workflows.Dollar * 8 / 100 // $0.08

var (
	// regionPattern matches AWS region names: us-east-1, eu-central-2,
	// us-gov-west-1, ap-southeast-4.
	regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	// instanceTypePattern matches EC2 instance types: t3.small,
	// m6i.large, p4d.24xlarge, u-6tb1.metal.
	instanceTypePattern = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9]+$`)
)

// decodePricing reads the fallback price table used when the AWS Price
// List API is unreachable:
//
//	pricing:
//	  volume_per_gb_month_usd: 0.08     # default 0.08
//	  hourly_usd:
//	    us-east-1: {t3.small: 0.0208}
//
// Every template's region and instance type must have a price here
// (checkPrices), so cost estimates never silently fall to zero.
func decodePricing(d *decoder, n *yaml.Node, b *build) {
	m := d.mapping("pricing", n, "volume_per_gb_month_usd", "hourly_usd")
	p := &b.cfg.Catalog.Pricing
	p.VolumePerGBMonth = m.money("volume_per_gb_month_usd", DefaultVolumePerGBMonth)
	p.Hourly = map[string]map[string]workflows.Money{}
	regions, _ := d.pairs(m.at("hourly_usd"), m.get("hourly_usd"))
	for _, r := range regions {
		rpath := field(m.at("hourly_usd"), r.key)
		if !regionPattern.MatchString(r.key) {
			d.problem(rpath, r.kn, "%q is not an AWS region name like us-east-1", r.key)
		}
		types, _ := d.pairs(rpath, r.v)
		prices := map[string]workflows.Money{}
		for _, t := range types {
			tpath := field(rpath, t.key)
			if !instanceTypePattern.MatchString(t.key) {
				d.problem(tpath, t.kn, "%q is not an EC2 instance type like t3.small", t.key)
			}
			v := resolve(t.v)
			if isNull(v) || v.Kind != yaml.ScalarNode {
				d.problem(tpath, t.kn, "must be an hourly price in dollars, like 0.0208")
				continue
			}
			if f, ok := d.number(tpath, v); ok {
				prices[t.key] = d.dollars(tpath, v, f)
			}
		}
		p.Hourly[r.key] = prices
	}
}
