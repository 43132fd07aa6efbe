#!/bin/sh
# A Yubico-style attestation made by the `openssl` command line alone: an
# attestation root, a device certificate (slot F9, not a CA), a statement for
# slot 9a over the slot key with Yubico's extensions, and the slot key's
# certificate request. Usage: openssl-attestation.sh DIR
set -eu
d=$1
mkdir -p "$d" && cd "$d"
ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
openssl req -x509 $ec -keyout root.key -out root.pem -subj "/CN=Attestation Root TEST CA" -days 3650 \
  -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -new $ec -keyout f9.key -out f9.csr -subj "/CN=Test PIV Attestation" 2>/dev/null
printf 'keyUsage=critical,digitalSignature\n' > f9.ext
openssl x509 -req -in f9.csr -CA root.pem -CAkey root.key -set_serial 0x0F9 -days 3650 -extfile f9.ext -out f9.pem 2>/dev/null
# The slot's key: its request for the bank's CA, and the card's statement about it.
openssl req -new $ec -keyout slot.key -out slot.csr -subj "/CN=alice" 2>/dev/null
openssl req -new -key slot.key -out statement.csr -subj "/CN=YubiKey PIV Attestation 9a" 2>/dev/null
cat > statement.ext <<'EXT'
1.3.6.1.4.1.41482.3.3=DER:05:07:01
1.3.6.1.4.1.41482.3.7=DER:02:04:01:2C:4B:2E
1.3.6.1.4.1.41482.3.8=DER:03:01
1.3.6.1.4.1.41482.3.9=DER:01
EXT
openssl x509 -req -in statement.csr -CA f9.pem -CAkey f9.key -set_serial 0x9A -days 3650 -extfile statement.ext \
  -out statement.pem 2>/dev/null
# Another key's request, to be refused.
openssl req -new $ec -keyout other.key -out other.csr -subj "/CN=alice" 2>/dev/null
echo done
