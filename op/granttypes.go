package op

// extensionGrantTypes are grants a client uses only when its GrantTypes
// list them, even where an empty list allows the other enabled grants:
// devices are a kind of client of their own (RFC 8628). clientMayUse
// applies the rule at the token endpoint and /device_authorization.
var extensionGrantTypes = []string{GrantTypeDeviceCode, GrantTypeTokenExchange}
