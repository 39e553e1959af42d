//! Private keys for the TLS tests, fixed because rcgen (on ring) can make
//! neither RSA keys nor the PKCS#1, SEC1 and encrypted forms users have on
//! disk. Made with OpenSSL 3 for these tests only, never used elsewhere:
//!
//! ```text
//! openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.p8.pem
//! openssl pkey -in rsa.p8.pem -traditional -out rsa.p1.pem
//! openssl ecparam -name prime256v1 -genkey -noout -out ec.sec1.pem
//! openssl pkcs8 -topk8 -nocrypt -in ec.sec1.pem -out ec.p8.pem
//! openssl pkcs8 -topk8 -v2 aes-256-cbc -passout pass:x -in ec.p8.pem -out ec.p8.enc.pem
//! openssl ec -in ec.sec1.pem -aes256 -passout pass:x -out ec.sec1.enc.pem
//! ```

/// An RSA key, PKCS#8 (`BEGIN PRIVATE KEY`).
pub const RSA_PKCS8: &str = "\
-----BEGIN PRIVATE KEY-----\n\
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQCYL/vaQy9rkyT3\n\
zRDBje960JDPvXGDAdPQq7TYsuskBPtsGVwHHgNmK2RPeI/PY4TnkpzhCtssKN8x\n\
T5xFHO8b+eWDenW9Ereom6Fdh8semwHhzN6nzspwakeWphiau/ajPy2vMOrXvLei\n\
+cO84JAnmwlBsfZR5YnB+UWmCfS8ZakhZGJE4cBWCzQytmhyY+H9Gi/ivaNIO5ao\n\
5YYFnnVJshIIgqGh0xZts978HdepePw/WbKGNm+JkZzBc3eA6OS3WRYP9TTlQm8j\n\
KdzENqIzgdxkRsxnugH4XK1TK2HqkPFFF4/Vlb9iZOWSwqV/4hv/qGQJXnLqo3D/\n\
vSyBetHDAgMBAAECggEAAg0gfYgkRBOUu5nmdpmIcqT0ktl2R5FcqXpEV666S9Nu\n\
ZUXdzsn2hEfzmPNKQS5AM/fjMEEoEbEE+fkZaTLToB4qhMYVCqOBuFAe4j54wvBY\n\
YYcUQWSwFD0PlCxK3S7RAYt4zlUNqHEYAAN/LsaZP6rOvKIWAA69/0iczdoUttbc\n\
BVhvZPffkuwV4Rk+tJ2oxKx98gep+pFvXuS8MoAB2Kz1TKfypS1NVYq4FxwIJdBG\n\
fPJ8tsgvttJ18jjCKppvcduTqs6hiywzux7mUaEi2TXSUAVhAwjBqECvrwjndwF2\n\
vNVgScgTJJyxMiJm75u3riMuelEq4DaAOmn81qVi6QKBgQDJVpG57s+Ya/50x1Ny\n\
coPQXuYjA+K5uaJzQS9D893embxUp+ynYVUCe1MscNkRcWWbMXHtR+V/noLPITOW\n\
mMraPtowNT9xTO7hGsQuOAvgmIuS/UyXVhm/lXUM1quzy2CxhEXQ72zaa9sYidGY\n\
GzqyLe2xNIx1uhq4Y0u/5lZHaQKBgQDBgVWnuR7KL598nlNj3iAr65FTGAroaxmV\n\
i9q4la2JYd6tOGyfojrGFRhbWmsgHNNRs0lctlIKWp4ivbTg6WIZyhZl3ALaE6fV\n\
PYsO2fU7X3aE+Ow8AEYnMdCWkZ/vxGK1z7l8OWi0UonATq+xmuC/HNelUzMY57f3\n\
xibzK032SwKBgFzqo8QgLxQTutHf72Xg7W4rbZ/5OhgmUI9KJOsCT4Fch6q1+KRi\n\
ad4EViUrSzIemBqgHgi4ZnSYDZxToUA98Vf5K66V1FqQe6nNNX5zBSA4pilG1qL8\n\
7FMbQXKUW5dVI6Go/qNm62B96BYR/HVrE5KJWamvK6dlJNG1mY7NWUIJAoGAV14j\n\
5GSK6FL0OXnqwM6LzAjCRrg2RJYGqSTKDklWXw8XUTKGqNTAoKrpomWCtK8PInZG\n\
i1uuUwpzF9B7mIkHSAmcb0UU7I2vW3I8FOqH9NS3WHZjgvvEsPGm8jSx97m9r8Uo\n\
RFRPWAtkMrXUUeZRzzggjX6xNW95+p82+tf0jV0CgYBvEh+AZoc+erNzpIcy1oqg\n\
G2QoorDNY3YtmL07OVE+tdK47MXd0aNEnV1bkzVXuArSIPEMJqmwvfeLZauK9kZv\n\
i5bo+m6LD73Ri74+9CqSfVwdRcufsJvY41xX0BzWXv66BBV5df8sjDMrPusUx1uR\n\
RMVAaL37LvT6EAsshDrKUQ==\n\
-----END PRIVATE KEY-----\n\
";

/// [`RSA_PKCS8`] in PKCS#1 (`BEGIN RSA PRIVATE KEY`).
pub const RSA_PKCS1: &str = "\
-----BEGIN RSA PRIVATE KEY-----\n\
MIIEogIBAAKCAQEAmC/72kMva5Mk980QwY3vetCQz71xgwHT0Ku02LLrJAT7bBlc\n\
Bx4DZitkT3iPz2OE55Kc4QrbLCjfMU+cRRzvG/nlg3p1vRK3qJuhXYfLHpsB4cze\n\
p87KcGpHlqYYmrv2oz8trzDq17y3ovnDvOCQJ5sJQbH2UeWJwflFpgn0vGWpIWRi\n\
ROHAVgs0MrZocmPh/Rov4r2jSDuWqOWGBZ51SbISCIKhodMWbbPe/B3XqXj8P1my\n\
hjZviZGcwXN3gOjkt1kWD/U05UJvIyncxDaiM4HcZEbMZ7oB+FytUyth6pDxRReP\n\
1ZW/YmTlksKlf+Ib/6hkCV5y6qNw/70sgXrRwwIDAQABAoIBAAINIH2IJEQTlLuZ\n\
5naZiHKk9JLZdkeRXKl6RFeuukvTbmVF3c7J9oRH85jzSkEuQDP34zBBKBGxBPn5\n\
GWky06AeKoTGFQqjgbhQHuI+eMLwWGGHFEFksBQ9D5QsSt0u0QGLeM5VDahxGAAD\n\
fy7GmT+qzryiFgAOvf9InM3aFLbW3AVYb2T335LsFeEZPrSdqMSsffIHqfqRb17k\n\
vDKAAdis9Uyn8qUtTVWKuBccCCXQRnzyfLbIL7bSdfI4wiqab3Hbk6rOoYssM7se\n\
5lGhItk10lAFYQMIwahAr68I53cBdrzVYEnIEyScsTIiZu+bt64jLnpRKuA2gDpp\n\
/NalYukCgYEAyVaRue7PmGv+dMdTcnKD0F7mIwPiubmic0EvQ/Pd3pm8VKfsp2FV\n\
AntTLHDZEXFlmzFx7Uflf56CzyEzlpjK2j7aMDU/cUzu4RrELjgL4JiLkv1Ml1YZ\n\
v5V1DNars8tgsYRF0O9s2mvbGInRmBs6si3tsTSMdboauGNLv+ZWR2kCgYEAwYFV\n\
p7keyi+ffJ5TY94gK+uRUxgK6GsZlYvauJWtiWHerThsn6I6xhUYW1prIBzTUbNJ\n\
XLZSClqeIr204OliGcoWZdwC2hOn1T2LDtn1O192hPjsPABGJzHQlpGf78Ritc+5\n\
fDlotFKJwE6vsZrgvxzXpVMzGOe398Ym8ytN9ksCgYBc6qPEIC8UE7rR3+9l4O1u\n\
K22f+ToYJlCPSiTrAk+BXIeqtfikYmneBFYlK0syHpgaoB4IuGZ0mA2cU6FAPfFX\n\
+SuuldRakHupzTV+cwUgOKYpRtai/OxTG0FylFuXVSOhqP6jZutgfegWEfx1axOS\n\
iVmpryunZSTRtZmOzVlCCQKBgFdeI+RkiuhS9Dl56sDOi8wIwka4NkSWBqkkyg5J\n\
Vl8PF1EyhqjUwKCq6aJlgrSvDyJ2RotbrlMKcxfQe5iJB0gJnG9FFOyNr1tyPBTq\n\
h/TUt1h2Y4L7xLDxpvI0sfe5va/FKERUT1gLZDK11FHmUc84II1+sTVvefqfNvrX\n\
9I1dAoGAbxIfgGaHPnqzc6SHMtaKoBtkKKKwzWN2LZi9OzlRPrXSuOzF3dGjRJ1d\n\
W5M1V7gK0iDxDCapsL33i2WrivZGb4uW6Ppuiw+90Yu+PvQqkn1cHUXLn7Cb2ONc\n\
V9Ac1l7+ugQVeXX/LIwzKz7rFMdbkUTFQGi9+y70+hALLIQ6ylE=\n\
-----END RSA PRIVATE KEY-----\n\
";

/// A P-256 ECDSA key, PKCS#8 (`BEGIN PRIVATE KEY`).
pub const EC_PKCS8: &str = "\
-----BEGIN PRIVATE KEY-----\n\
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgTBDfXzBzVvYrIWsF\n\
pXJ6sc8KBQDKIIBLFoP5/1lEr7GhRANCAASUvMbEsqbIIn5R8FrmrfDDFElfUMg5\n\
UYA1+arZFYg+PLL4A3wpbIoMP0yviuXZpMiBKutCvF+UALPnfZs9RMxx\n\
-----END PRIVATE KEY-----\n\
";

/// [`EC_PKCS8`] in SEC1 (`BEGIN EC PRIVATE KEY`), with its curve named, as OpenSSL writes it.
pub const EC_SEC1: &str = "\
-----BEGIN EC PRIVATE KEY-----\n\
MHcCAQEEIEwQ318wc1b2KyFrBaVyerHPCgUAyiCASxaD+f9ZRK+xoAoGCCqGSM49\n\
AwEHoUQDQgAElLzGxLKmyCJ+UfBa5q3wwxRJX1DIOVGANfmq2RWIPjyy+AN8KWyK\n\
DD9Mr4rl2aTIgSrrQrxflACz532bPUTMcQ==\n\
-----END EC PRIVATE KEY-----\n\
";

/// [`EC_PKCS8`] encrypted, PKCS#8 (`BEGIN ENCRYPTED PRIVATE KEY`), passphrase `x`.
pub const EC_PKCS8_ENCRYPTED: &str = "\
-----BEGIN ENCRYPTED PRIVATE KEY-----\n\
MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAgzYiIDM99nAgICCAAw\n\
DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEPVq1SOfywH9+Qycn9IA1HwEgZC1\n\
Lpg+XlEQH0swkAHtBjL/yahthP2+TkSBMDoru+lVIV2NnmiuCTrYc4VIC/zCKnES\n\
shBz/jgsPr36F2XSReQxhO6+GcXVqVCvB1itqxRHXrbpFA7XAlHtbpSCy1i63IAl\n\
LMBrNkDFHHuYjIrYEAS8WaYAEkQFbH7MRF6mdRPXK/rnueAIgaZ89b9qEGD2HPQ=\n\
-----END ENCRYPTED PRIVATE KEY-----\n\
";

/// [`EC_SEC1`] under OpenSSL's legacy encryption (`Proc-Type: 4,ENCRYPTED`), passphrase `x`.
pub const EC_SEC1_ENCRYPTED: &str = "\
-----BEGIN EC PRIVATE KEY-----\n\
Proc-Type: 4,ENCRYPTED\n\
DEK-Info: AES-256-CBC,6458D75A798584347A6D0D68C6324F86\n\
\n\
jnBjgJAtNetWPJl+3V+aHhWCYvciLTTW/8KuC8fzEeg2e4kO7JTpdhe3hz3IgSqI\n\
J1sV3h7Gv9EDWktn6ZtlkHsLnrly5W5tbjAr1fVo9zLpDd7ptd5vfPR+ZprwOTgF\n\
QnX4pHVjCTPtGRHheU/VCXCMmtAxHJ3MCuA2Scfa24A=\n\
-----END EC PRIVATE KEY-----\n\
";
