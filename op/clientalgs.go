package op

import "slices"

// ClientAlgs are the algorithms a client's metadata may name, for the
// forms that offer them as choices (the web console's client form).
type ClientAlgs struct {
	// AccessToken: access_token_signed_response_alg (RFC 9068).
	AccessToken []string
	// UserinfoSigning: userinfo_signed_response_alg.
	UserinfoSigning []string
	// KeyEncryption: id_token_encrypted_response_alg and
	// userinfo_encrypted_response_alg.
	KeyEncryption []string
	// ContentEncryption: id_token_encrypted_response_enc and
	// userinfo_encrypted_response_enc; the first is the default.
	ContentEncryption []string
}

// SupportedClientAlgs returns the algorithms the provider accepts in a
// client's metadata.
func SupportedClientAlgs() ClientAlgs {
	encs := contentEncNames()
	if i := slices.Index(encs, defaultContentEnc); i > 0 {
		encs = append([]string{defaultContentEnc}, slices.Delete(encs, i, i+1)...)
	}
	return ClientAlgs{
		AccessToken:       accessTokenAlgs(),
		UserinfoSigning:   slices.Clone(userinfoSigningAlgs),
		KeyEncryption:     keyEncAlgNames(),
		ContentEncryption: encs,
	}
}
