package ec2fake_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/pricing"
	"github.com/aws/aws-sdk-go-v2/service/pricing/types"
)

func TestGetProducts_DocumentShapeAndPaging(t *testing.T) {
	fake, _, srv, _ := setup(t)
	fake.SetPrice("us-east-1", "t3.micro", 0.0104)
	c := pricing.New(pricing.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", ""), HTTPClient: srv.Client()})
	in := &pricing.GetProductsInput{ServiceCode: aws.String("AmazonEC2"), MaxResults: aws.Int32(2),
		Filters: []types.Filter{{Type: types.FilterTypeTermMatch, Field: aws.String("instanceType"), Value: aws.String("t3.micro")}}}
	var docs []string
	p := pricing.NewGetProductsPaginator(c, in)
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(page.PriceList) > 2 || aws.ToString(page.FormatVersion) != "aws_v1" {
			t.Fatalf("page of %d, format %q", len(page.PriceList), aws.ToString(page.FormatVersion))
		}
		docs = append(docs, page.PriceList...)
	}
	if len(docs) < 2 {
		t.Fatalf("%d products; the Linux one should come with decoys", len(docs))
	}
	linux := 0
	for _, d := range docs {
		var doc struct {
			Product struct {
				Attributes map[string]string `json:"attributes"`
			} `json:"product"`
			Terms struct {
				OnDemand map[string]struct {
					PriceDimensions map[string]struct {
						Unit         string            `json:"unit"`
						PricePerUnit map[string]string `json:"pricePerUnit"`
					} `json:"priceDimensions"`
				} `json:"OnDemand"`
			} `json:"terms"`
		}
		if err := json.Unmarshal([]byte(d), &doc); err != nil {
			t.Fatalf("document %s: %v", d, err)
		}
		a := doc.Product.Attributes
		if a["instanceType"] != "t3.micro" || a["regionCode"] != "us-east-1" {
			t.Errorf("attributes %v", a)
		}
		for _, term := range doc.Terms.OnDemand {
			for _, dim := range term.PriceDimensions {
				if a["operatingSystem"] == "Linux" && a["tenancy"] == "Shared" && a["capacitystatus"] == "Used" && a["preInstalledSw"] == "NA" {
					linux++
					if dim.Unit != "Hrs" || dim.PricePerUnit["USD"] != "0.0104000000" {
						t.Errorf("Linux price dimension %+v", dim)
					}
				}
			}
		}
	}
	if linux != 1 {
		t.Errorf("%d plain Linux products, want 1", linux)
	}
}
