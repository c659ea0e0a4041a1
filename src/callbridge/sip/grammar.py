"""The pieces of the RFC 3261 section 25 grammar the message layer uses, as compiled regular expressions.

Each piece quotes the ABNF it implements. Header values reach these patterns already unfolded (every
``*WSP CRLF 1*WSP`` replaced by one space, RFC 3261 7.3.1), so ``LWS`` and ``SWS`` appear here as runs of
space and tab.

Every repetition is possessive (``*+``, ``++``) or ranges over a character class that the following piece
cannot start with, and every pattern is used with ``fullmatch``/``match`` from a fixed position, so matching
is linear in the input: no catastrophic backtracking on hostile input.
"""

from __future__ import annotations

import re
from typing import Final

# alphanum  =  ALPHA / DIGIT
# token     =  1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" )
TOKEN_CHARS: Final = r"A-Za-z0-9\-.!%*_+`'~"
TOKEN: Final = rf"[{TOKEN_CHARS}]++"

# word  =  1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" / "(" / ")" / "<" / ">" /
#          ":" / "\" / DQUOTE / "/" / "[" / "]" / "?" / "{" / "}" )
WORD: Final = rf"[{TOKEN_CHARS}()<>:\\\"/\[\]?{{}}]++"

# LWS  =  [*WSP CRLF] 1*WSP ; linear whitespace
# SWS  =  [LWS] ; sep whitespace
LWS: Final = r"[ \t]++"
SWS: Final = r"[ \t]*+"

# quoted-string  =  SWS DQUOTE *(qdtext / quoted-pair ) DQUOTE
# qdtext         =  LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII
# quoted-pair    =  "\" (%x00-09 / %x0B-0C / %x0E-7F)
QUOTED_STRING: Final = r'"(?:[^"\\\r\n]|\\[\x00-\x09\x0b\x0c\x0e-\x7f])*+"'
QUOTED_PAIR_RE: Final = re.compile(r"\\([\x00-\x09\x0b\x0c\x0e-\x7f])")

# escaped     =  "%" HEXDIG HEXDIG
# unreserved  =  alphanum / mark
# mark        =  "-" / "_" / "." / "!" / "~" / "*" / "'" / "(" / ")"
ESCAPED: Final = r"%[0-9A-Fa-f]{2}"
UNRESERVED: Final = r"A-Za-z0-9\-_.!~*'()"

# user             =  1*( unreserved / escaped / user-unreserved )
# user-unreserved  =  "&" / "=" / "+" / "$" / "," / ";" / "?" / "/"
USER_RE: Final = re.compile(rf"(?:[{UNRESERVED}&=+$,;?/]|{ESCAPED})++")

# password  =  *( unreserved / escaped / "&" / "=" / "+" / "$" / "," )
PASSWORD_RE: Final = re.compile(rf"(?:[{UNRESERVED}&=+$,]|{ESCAPED})*+")

# IPv4address    =  1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT
# IPv6reference  =  "[" IPv6address "]"
# hostname       =  *( domainlabel "." ) toplabel [ "." ]
# domainlabel    =  alphanum / alphanum *( alphanum / "-" ) alphanum
# toplabel       =  ALPHA / ALPHA *( alphanum / "-" ) alphanum
# The patterns below find where a host ends; `valid_host` (in uri.py) then checks the labels and addresses.
IPV4_RE: Final = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")
IPV6_REFERENCE: Final = r"\[[0-9A-Fa-f:.]++\]"
HOST_TEXT: Final = rf"(?:{IPV6_REFERENCE}|[A-Za-z0-9.\-]++)"
LABEL_RE: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9\-]*+)")

# hostport  =  host [ ":" port ]
# port      =  1*DIGIT
HOSTPORT_RE: Final = re.compile(rf"(?P<host>{HOST_TEXT})(?::(?P<port>\d{{1,5}}))?+")

# uri-parameter  =  transport-param / user-param / method-param / ttl-param / maddr-param / lr-param / other-param
# other-param    =  pname [ "=" pvalue ]
# pname          =  1*paramchar
# pvalue         =  1*paramchar
# paramchar      =  param-unreserved / unreserved / escaped
# param-unreserved  =  "[" / "]" / "/" / ":" / "&" / "+" / "$"
PARAMCHARS_RE: Final = re.compile(rf"(?:[{UNRESERVED}\[\]/:&+$]|{ESCAPED})++")

# header          =  hname "=" hvalue
# hname           =  1*( hnv-unreserved / unreserved / escaped )
# hvalue          =  *( hnv-unreserved / unreserved / escaped )
# hnv-unreserved  =  "[" / "]" / "/" / "?" / ":" / "+" / "$"
HNAME_RE: Final = re.compile(rf"(?:[{UNRESERVED}\[\]/?:+$]|{ESCAPED})++")
HVALUE_RE: Final = re.compile(rf"(?:[{UNRESERVED}\[\]/?:+$]|{ESCAPED})*+")

# absoluteURI  =  scheme ":" ( hier-part / opaque-part )
# scheme       =  ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
# uric         =  reserved / unreserved / escaped
# reserved     =  ";" / "/" / "?" / ":" / "@" / "&" / "=" / "+" / "$" / ","
ABSOLUTE_URI_RE: Final = re.compile(
    rf"(?P<scheme>[A-Za-z][A-Za-z0-9+\-.]*+):(?P<rest>(?:[{UNRESERVED};/?:@&=+$,]|{ESCAPED})++)"
)

# telephone-subscriber  =  global-number / local-number   (RFC 3966, kept minimal: digits, visual separators,
# "*", "#" and hex digits for local numbers; parameters as ";" pname [ "=" pvalue ])
TEL_NUMBER_RE: Final = re.compile(r"\+?[0-9A-Fa-f*#\-.()]++")

# Method        =  INVITEm / ACKm / OPTIONSm / BYEm / CANCELm / REGISTERm / extension-method
# extension-method  =  token
METHOD_RE: Final = re.compile(TOKEN)

# SIP-Version  =  "SIP" "/" 1*DIGIT "." 1*DIGIT
SIP_VERSION_RE: Final = re.compile(r"SIP/\d{1,4}\.\d{1,4}")

# Status-Code    =  3DIGIT  (with extension-code = 3DIGIT, 100-699)
# Reason-Phrase  =  *(reserved / unreserved / escaped / UTF8-NONASCII / UTF8-CONT / SP / HTAB)
STATUS_CODE_RE: Final = re.compile(r"[1-6]\d\d")
REASON_PHRASE_RE: Final = re.compile(r"[^\x00-\x08\x0a-\x1f\x7f]*+")

# message-header  =  (field-name) HCOLON (field-value) CRLF
# HCOLON          =  *( SP / HTAB ) ":" SWS
HEADER_LINE_RE: Final = re.compile(rf"(?P<name>{TOKEN})[ \t]*+:[ \t]*+(?P<value>.*)", re.DOTALL)

# generic-param  =  token [ EQUAL gen-value ]
# gen-value      =  token / host / quoted-string
# EQUAL          =  SWS "=" SWS
# (host here also admits a bare IPv6address, which `received` takes: received = "received" EQUAL (IPv4address /
# IPv6address))
GENERIC_PARAM_RE: Final = re.compile(
    rf"{SWS}(?P<name>{TOKEN}){SWS}(?:={SWS}(?P<value>{TOKEN}|{IPV6_REFERENCE}|[0-9A-Fa-f:.]++|{QUOTED_STRING}){SWS})?"
)

# via-parm       =  sent-protocol LWS sent-by *( SEMI via-params )
# sent-protocol  =  protocol-name SLASH protocol-version SLASH transport
# sent-by        =  host [ COLON port ]
# SLASH / COLON  =  SWS "/" SWS / SWS ":" SWS
VIA_PARM_RE: Final = re.compile(
    rf"{SWS}(?P<name>{TOKEN}){SWS}/{SWS}(?P<version>{TOKEN}){SWS}/{SWS}(?P<transport>{TOKEN}){LWS}"
    rf"(?P<host>{HOST_TEXT})(?:{SWS}:{SWS}(?P<port>\d{{1,5}}))?+{SWS}(?P<params>(?:;.*)?)",
    re.DOTALL,
)

# name-addr     =  [ display-name ] LAQUOT addr-spec RAQUOT
# display-name  =  *(token LWS)/ quoted-string
# LAQUOT / RAQUOT  =  SWS "<" / ">" SWS
# (RFC 4475 3.1.1.6: no LWS is required between a token display-name and "<")
NAME_ADDR_RE: Final = re.compile(
    rf"{SWS}(?:(?P<quoted>{QUOTED_STRING})|(?P<tokens>(?:{TOKEN}{SWS})*+)){SWS}<(?P<uri>[^<>]*+)>{SWS}(?P<params>.*)",
    re.DOTALL,
)

# addr-spec  =  SIP-URI / SIPS-URI / absoluteURI  (outside <>, the URI cannot contain ",", "?" or ";":
# RFC 3261 20.10, so it ends at the first ";")
ADDR_SPEC_RE: Final = re.compile(rf"{SWS}(?P<uri>[^;\s]++){SWS}(?P<params>.*)", re.DOTALL)

# CSeq  =  "CSeq" HCOLON 1*DIGIT LWS Method
CSEQ_RE: Final = re.compile(rf"(?P<number>\d{{1,20}}){LWS}(?P<method>{TOKEN})")

# callid  =  word [ "@" word ]
CALL_ID_RE: Final = re.compile(rf"{WORD}(?:@{WORD})?+")

# Max-Forwards / Content-Length / delta-seconds  =  1*DIGIT  (bounded here: values past 10 digits are out of
# every range SIP defines, and refusing them keeps int() cheap)
DIGITS_RE: Final = re.compile(r"\d{1,10}")

# SIP-date  =  rfc1123-date
# rfc1123-date  =  wkday "," SP date1 SP time SP "GMT"
# date1  =  2DIGIT SP month SP 4DIGIT ; time = 2DIGIT ":" 2DIGIT ":" 2DIGIT
SIP_DATE_RE: Final = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
    r"\d\d:\d\d:\d\d GMT"
)
