#!/bin/bash
# tls-certs.sh DIR - the certificates tests/pages/tls.sh uses, made afresh
# with openssl (EC P-256, valid two days):
#   ca.pem ca.key           the test CA
#   server.pem server.key   signed by it, for 127.0.0.1 and 10.213.0.2
#   client.pem client.key   signed by it, the same names (CRIU's rule: the
#                           page server checks the client's certificate
#                           against its own --address)
#   other-ca.pem            another CA, which signed neither
#   rogue.pem rogue.key     signed by the other CA, the same names
#   misnamed.pem misnamed.key  signed by the test CA, for 10.9.9.9 only
set -eu
d=$1
mkdir -p "$d"
cd "$d"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
# ca NAME CN: a self-signed CA.
ca() {
	key "$1.key"
	openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 2 -subj "/CN=$2" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
# cn SAN: the first name of SAN, bare.
cn() { local n=${1%%,*}; echo "${n#*:}"; }
# leaf NAME CA SAN: a certificate for SAN, signed by CA.
leaf() {
	key "$1.key"
	openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$(cn "$3")" 2>/dev/null
	printf '%s\n' "subjectAltName=$3" "basicConstraints=CA:FALSE" \
		"keyUsage=critical,digitalSignature,keyEncipherment" \
		"extendedKeyUsage=serverAuth,clientAuth" >"$1.ext"
	openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial \
		-out "$1.pem" -days 2 -extfile "$1.ext" 2>/dev/null
	rm -f "$1.csr" "$1.ext"
}
ca ca "stasis test CA"
ca other-ca "another CA"
names="IP:127.0.0.1,IP:10.213.0.2"
leaf server ca "$names"
leaf client ca "$names"
leaf rogue other-ca "$names"
leaf misnamed ca "IP:10.9.9.9"
