"""A tiny relying application that signs its users in through phonegate's Universal Login
(OAuth 2.0 authorization code flow with PKCE, OpenID Connect). See README.md."""
