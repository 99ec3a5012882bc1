/* The usual SIP URI between angle brackets, scanned for two C accelerators
 * (rtcscope.sip._routescan's usual Contact value and rtcscope.sip._callwalk's name-addr
 * cut). Its specification is the regex both Python roads use, _USUAL_URI in
 * rtcscope.sip.headers: ``[Ss][Ii][Pp][Ss]?:(?:user@)?host(?::port)?(?:;params)?``.
 * Included by both sources (static functions: each extension has its own copy). */

#ifndef RTCSCOPE_URISCAN_H
#define RTCSCOPE_URISCAN_H

#include <Python.h>

/* Whether c may stand in a URI's user part ([^@:;?\s<>"\[\]]) or, with params set, in its
 * parameters ([^@?\s<>"\[\]]); a space, a control or a non-ASCII byte is refused here (\s
 * is Unicode's whitespace: the regex decides those). */
static int uriscan_user_char(unsigned char c, int params)
{
    if (c <= 0x20 || c >= 0x7f)
        return 0;
    switch (c) {
    case '@': case '?': case '<': case '>': case '"': case '[': case ']':
        return 0;
    case ':': case ';':
        return params;
    default:
        return 1;
    }
}

static int uriscan_host_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
}

static int uriscan_ipv6_char(unsigned char c)
{
    return (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f') || (c >= '0' && c <= '9') ||
           c == ':' || c == '.';
}

/* The usual URI starting at s[i] (just after its '<'), among the n bytes at s: the index of
 * the '>' that closes it, or -1 where the bytes are not of that shape. */
static Py_ssize_t uriscan_usual_uri(const unsigned char *s, Py_ssize_t n, Py_ssize_t i)
{
    /* [Ss][Ii][Pp][Ss]?: */
    if (n - i < 4 || (s[i] | 0x20) != 's' || (s[i + 1] | 0x20) != 'i' || (s[i + 2] | 0x20) != 'p')
        return -1;
    i += 3;
    if ((s[i] | 0x20) == 's')
        i++;
    if (i == n || s[i] != ':')
        return -1;
    i++;
    /* (?:user@)? */
    {
        Py_ssize_t j = i;
        while (j < n && uriscan_user_char(s[j], 0))
            j++;
        if (j < n && s[j] == '@')
            i = j + 1;
    }
    /* the host: [A-Za-z0-9._-]+ or \[[0-9A-Fa-f:.]+\] */
    if (i < n && s[i] == '[') {
        Py_ssize_t first = ++i;
        while (i < n && uriscan_ipv6_char(s[i]))
            i++;
        if (i == first || i == n || s[i] != ']')
            return -1;
        i++;
    }
    else {
        Py_ssize_t first = i;
        while (i < n && uriscan_host_char(s[i]))
            i++;
        if (i == first)
            return -1;
    }
    /* (?::port)?: 0-65535, at most 4 digits or 5 not starting with 0 */
    if (i < n && s[i] == ':') {
        Py_ssize_t first = ++i;
        long port = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9' && i - first < 6)
            port = port * 10 + (s[i++] - '0');
        if (i == first || i - first > 5 || (i - first == 5 && (s[first] == '0' || port > 65535)))
            return -1;
    }
    /* (?:;params)? */
    if (i < n && s[i] == ';')
        for (i++; i < n && uriscan_user_char(s[i], 1); i++)
            ;
    if (i == n || s[i] != '>')
        return -1;
    return i;
}

#endif
