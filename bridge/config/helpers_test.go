package config

import "github.com/carebridge/carebridge/bridge/route"

func routeInput(text string) route.Input { return route.Input{Text: text} }
