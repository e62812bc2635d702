package aws

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/pricing"
	"github.com/aws/aws-sdk-go-v2/service/pricing/types"

	"github.com/opsbot/opsbot/workflows"
)

// HourlyPrice answers the on-demand price of a Linux instance with shared
// tenancy and no pre-installed software, from the Price List API.
func (e *EC2) HourlyPrice(ctx context.Context, region, instanceType string) (workflows.Money, error) {
	doing := fmt.Sprintf("price %s in %s", instanceType, region)
	term := func(field, value string) types.Filter {
		return types.Filter{Type: types.FilterTypeTermMatch, Field: aws.String(field), Value: aws.String(value)}
	}
	out, err := e.pricingClient().GetProducts(ctx, &pricing.GetProductsInput{
		ServiceCode:   aws.String("AmazonEC2"),
		FormatVersion: aws.String("aws_v1"),
		MaxResults:    aws.Int32(10),
		Filters: []types.Filter{
			term("instanceType", instanceType),
			term("regionCode", region),
			term("operatingSystem", "Linux"),
			term("tenancy", "Shared"),
			term("preInstalledSw", "NA"),
			term("capacitystatus", "Used"),
		},
	})
	if err != nil {
		return 0, classify(err, doing)
	}
	for _, doc := range out.PriceList {
		usd, ok, err := onDemandHourly(doc)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", doing, err)
		}
		if ok {
			return workflows.USD(usd), nil
		}
	}
	return 0, fmt.Errorf("%s: no on-demand hourly price in %d products: %w", doing, len(out.PriceList), workflows.ErrNotFound)
}

// priceDocument is the part of a Price List product that holds its
// on-demand prices: terms.OnDemand.<offer>.priceDimensions.<rate>.
type priceDocument struct {
	Terms struct {
		OnDemand map[string]struct {
			PriceDimensions map[string]struct {
				Unit         string            `json:"unit"`
				PricePerUnit map[string]string `json:"pricePerUnit"`
			} `json:"priceDimensions"`
		} `json:"OnDemand"`
	} `json:"terms"`
}

// onDemandHourly reads the USD hourly price out of one product document.
func onDemandHourly(doc string) (float64, bool, error) {
	var d priceDocument
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return 0, false, fmt.Errorf("parse price document: %w", err)
	}
	for _, offer := range d.Terms.OnDemand {
		for _, dim := range offer.PriceDimensions {
			if dim.Unit != "Hrs" {
				continue
			}
			s, ok := dim.PricePerUnit["USD"]
			if !ok {
				continue
			}
			usd, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return 0, false, fmt.Errorf("parse price %q: %w", s, err)
			}
			return usd, true, nil
		}
	}
	return 0, false, nil
}
