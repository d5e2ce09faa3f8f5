package route_test

import (
	"fmt"

	"github.com/carebridge/carebridge/bridge/route"
)

func Example() {
	r, err := route.New([]route.Rule{
		{Department: "network", Keywords: []string{"WiFi", "no signal", "電波", "신호"}, Exclude: []string{"wifi calling"}, Continue: true, Tag: "outage"},
		{Department: "billing", Keywords: []string{"bill", "refund", "料金", "요금"}},
		{Department: "social", Keywords: []string{"thank you"}, Accounts: []string{"AcmeHelp"}, Tag: "praise"},
	}, "triage")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, in := range []route.Input{
		{Text: "ＷｉＦｉが遅い、料金も高い"},
		{Text: "my bill is wrong"},
		{Text: "a billion thanks", Mentions: []string{"@acmehelp"}},
		{Text: "wifi calling broken"},
	} {
		res := r.Route(in)
		fmt.Printf("%s fyi=%v matched=%q rule=%d tags=%v\n", res.Department, res.FYI, res.Matched, res.Rule, res.Tags)
	}
	// Output:
	// network fyi=[billing] matched=["WiFi" "料金"] rule=0 tags=[outage]
	// billing fyi=[] matched=["bill"] rule=1 tags=[]
	// social fyi=[] matched=["@AcmeHelp"] rule=2 tags=[praise]
	// triage fyi=[] matched=[] rule=-1 tags=[]
}

func ExampleNormalize() {
	fmt.Println(route.Normalize("  ＷｉＦｉ\u200b  ﾃﾞﾝﾊﾟ\n\tSTRASSE "))
	// Output: wifi デンパ strasse
}
