#include "base/hz3_fmt.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  char *buf;
  size_t cap;
  size_t len;
} out_t;

static void put(out_t *o, char c) {
  if (o->len + 1 < o->cap) o->buf[o->len] = c;
  o->len++;
}

/* Digits of v in base into tmp (reversed order is fixed up here); returns the length. */
static size_t unsigned_digits(char *tmp, unsigned long long v, unsigned base) {
  char rev[24];
  size_t n = 0;
  do {
    unsigned d = (unsigned)(v % base);
    rev[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
    v /= base;
  } while (v != 0);
  for (size_t i = 0; i < n; i++) tmp[i] = rev[n - 1 - i];
  return n;
}

/* Writes s[0..len) padded to width: on the right with '-', else on the left with pad. */
static void put_padded(out_t *o, const char *s, size_t len, size_t width, int left, char pad) {
  size_t fill = width > len ? width - len : 0;
  if (!left && pad == '0' && len > 0 && s[0] == '-') { /* keep the sign before the zeros */
    put(o, '-');
    s++, len--;
  }
  if (!left)
    while (fill-- > 0) put(o, pad);
  for (size_t i = 0; i < len; i++) put(o, s[i]);
  if (left)
    while (fill-- > 0) put(o, ' ');
}

size_t hz3_vformat(char *buf, size_t cap, const char *fmt, va_list ap) {
  out_t o = {buf, cap, 0};
  for (const char *f = fmt; *f; f++) {
    if (*f != '%') {
      put(&o, *f);
      continue;
    }
    f++;
    int left = 0;
    char pad = ' ';
    for (;; f++) {
      if (*f == '-')
        left = 1;
      else if (*f == '0')
        pad = '0';
      else
        break;
    }
    size_t width = 0;
    while (*f >= '0' && *f <= '9') width = width * 10 + (size_t)(*f++ - '0');
    int longs = 0, size_t_arg = 0;
    while (*f == 'l') longs++, f++;
    if (*f == 'z') size_t_arg = 1, f++;
    char tmp[32];
    size_t n = 0;
    switch (*f) {
      case 's': {
        const char *s = va_arg(ap, const char *);
        if (s == NULL) s = "(null)";
        put_padded(&o, s, strlen(s), width, left, ' ');
        continue;
      }
      case 'c':
        tmp[n++] = (char)va_arg(ap, int);
        break;
      case 'd':
      case 'i': {
        long long v = size_t_arg   ? (long long)va_arg(ap, size_t)
                      : longs >= 2 ? va_arg(ap, long long)
                      : longs == 1 ? va_arg(ap, long)
                                   : va_arg(ap, int);
        unsigned long long mag = (unsigned long long)v;
        if (v < 0) {
          tmp[n++] = '-';
          mag = 0ull - mag;
        }
        n += unsigned_digits(tmp + n, mag, 10);
        break;
      }
      case 'u':
      case 'x': {
        unsigned long long v = size_t_arg   ? va_arg(ap, size_t)
                               : longs >= 2 ? va_arg(ap, unsigned long long)
                               : longs == 1 ? va_arg(ap, unsigned long)
                                            : va_arg(ap, unsigned);
        n = unsigned_digits(tmp, v, *f == 'x' ? 16 : 10);
        break;
      }
      case 'p':
        tmp[n++] = '0';
        tmp[n++] = 'x';
        n += unsigned_digits(tmp + n, (uintptr_t)va_arg(ap, void *), 16);
        break;
      case '%':
        tmp[n++] = '%';
        break;
      case '\0':
        f--;
        continue; /* a lone '%' at the end */
      default:
        tmp[n++] = '%';
        tmp[n++] = *f;
        break;
    }
    put_padded(&o, tmp, n, width, left, pad);
  }
  if (cap > 0) buf[o.len < cap ? o.len : cap - 1] = '\0';
  return o.len < cap ? o.len : (cap > 0 ? cap - 1 : 0);
}

size_t hz3_format(char *buf, size_t cap, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  size_t n = hz3_vformat(buf, cap, fmt, ap);
  va_end(ap);
  return n;
}

int hz3_write_all(int fd, const char *s, size_t len) {
  while (len > 0) {
    ssize_t w = write(fd, s, len);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    s += w;
    len -= (size_t)w;
  }
  return 0;
}

void hz3_dprintf(int fd, const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  size_t n = hz3_vformat(line, sizeof line, fmt, ap);
  va_end(ap);
  int saved = errno; /* a diagnostic must not change the caller's errno */
  (void)hz3_write_all(fd, line, n);
  errno = saved;
}
