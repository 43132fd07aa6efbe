#!/bin/sh
# A small PKI made by the `openssl` command line alone, for the verifier's
# tests: a root, an intermediate, end-entity certificates for every case,
# revocations and CRLs. Usage: openssl-pki.sh DIR   (run with the real clock)
set -eu
d=$1
mkdir -p "$d" && cd "$d"
at() { date -u -d "$1" +%Y%m%d%H%M%SZ; }

ca_dir() { # NAME: a directory and config for `openssl ca`
  mkdir -p "$1/new"; : > "$1/index.txt"; echo 1000 > "$1/serial"; echo 01 > "$1/crlnumber"
  cat > "$1/ca.cnf" <<CNF
[ ca ]
default_ca = this
[ this ]
dir = $PWD/$1
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
crlnumber = \$dir/crlnumber
certificate = \$dir/cert.pem
private_key = \$dir/key.pem
default_md = sha256
policy = any
unique_subject = no
default_days = 30
default_crl_days = 7
[ any ]
commonName = supplied
[ intermediate ]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ login ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ tx ]
basicConstraints = critical, CA:false
keyUsage = critical, nonRepudiation
authorityKeyIdentifier = keyid
[ encipher_only ]
keyUsage = critical, keyEncipherment
authorityKeyIdentifier = keyid
[ no_key_usage ]
basicConstraints = CA:false
authorityKeyIdentifier = keyid
[ server_only ]
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
authorityKeyIdentifier = keyid
[ ca_flag ]
basicConstraints = critical, CA:true
keyUsage = critical, digitalSignature
authorityKeyIdentifier = keyid
CNF
}
root() { # NAME CN: a self-signed root
  ca_dir "$1"
  ku=keyCertSign,cRLSign; [ "$1" = nocrlsign ] && ku=keyCertSign
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1/key.pem" -out "$1/cert.pem" \
    -subj "/CN=$2" -days 3650 -addext "keyUsage=critical,$ku" 2>/dev/null
}
request() { # NAME CN: a key and a request
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
}
issue() { # CA NAME CN EXTENSIONS [ca options...]
  ca=$1 name=$2 cn=$3 ext=$4; shift 4
  request "$name" "$cn"
  openssl ca -config "$ca/ca.cnf" -batch -notext -extensions "$ext" -in "$name.csr" -out "$name.pem" "$@" 2>/dev/null
}

root root "OpenSSL Root TEST CA"
root nocrlsign "OpenSSL No-CRL-Sign TEST CA"
root other "OpenSSL Other TEST CA"
issue root inter "OpenSSL Intermediate TEST CA" intermediate -days 1000
mkdir -p inter_ca && ca_dir inter_ca && cp inter.pem inter_ca/cert.pem && cp inter.key inter_ca/key.pem

issue inter_ca login "alice" login
issue inter_ca tx "alice tx" tx
issue inter_ca revoked "eve" login
issue inter_ca future "dave" login -startdate "$(at '+10 days')" -enddate "$(at '+40 days')"
issue inter_ca expired "carol" login -startdate "$(at '-40 days')" -enddate "$(at '-10 days')"
issue inter_ca enc "frank" encipher_only
issue inter_ca noku "grace" no_key_usage
issue inter_ca server "heidi" server_only
issue inter_ca caflag "ivan" ca_flag
issue root direct "judy" login
issue nocrlsign nocrl "kim" login
# A certificate "issued" by an end entity (alice's key): its issuer is no CA.
request sub "mallory"
openssl x509 -req -in sub.csr -CA login.pem -CAkey login.key -set_serial 7 -days 30 -out sub.pem 2>/dev/null
# The CRL before eve's revocation (number 01), then the ones after (02, 03).
openssl ca -config inter_ca/ca.cnf -gencrl -out inter-before.crl 2>/dev/null
openssl ca -config inter_ca/ca.cnf -revoke revoked.pem 2>/dev/null

openssl ca -config inter_ca/ca.cnf -gencrl -out inter.crl 2>/dev/null
openssl ca -config inter_ca/ca.cnf -gencrl -crlhours 1 -out inter-1h.crl 2>/dev/null
openssl ca -config root/ca.cnf -gencrl -out root.crl 2>/dev/null
openssl ca -config other/ca.cnf -gencrl -out other.crl 2>/dev/null
openssl ca -config nocrlsign/ca.cnf -gencrl -out nocrlsign.crl 2>/dev/null
# Unnumbered CRLs (no crlnumber file): one from an hour ago without tx's
# revocation, then tx revoked and a current one; and a second number 02
# that differs from inter.crl (the CRL number file put back).
sed '/^crlnumber/d' inter_ca/ca.cnf > inter_ca/nonum.cnf
openssl ca -config inter_ca/nonum.cnf -gencrl -crl_lastupdate "$(at '-1 hour')" -out inter-nonum-old.crl 2>/dev/null
openssl ca -config inter_ca/ca.cnf -revoke tx.pem 2>/dev/null
openssl ca -config inter_ca/nonum.cnf -gencrl -out inter-nonum-new.crl 2>/dev/null
echo 02 > inter_ca/crlnumber
openssl ca -config inter_ca/ca.cnf -gencrl -out inter-dup.crl 2>/dev/null
# A delta CRL (RFC 5280 5.2.4; openssl's config knows the extension by OID only).
sed 's/^default_crl_days = 7$/&\ncrl_extensions = delta/' inter_ca/ca.cnf > inter_ca/delta.cnf
printf '[ delta ]\n2.5.29.27 = critical, DER:02:01:01\n' >> inter_ca/delta.cnf
openssl ca -config inter_ca/delta.cnf -gencrl -out inter-delta.crl 2>/dev/null
echo done
