/*
 * imgjson.h - whole image files to crit's JSON and back:
 *   { "magic": "CORE", "entries": [ {...}, ... ] }
 * Raw data that follows an entry (pipe bytes, socket queues, ghost file
 * contents, ...) is the entry's "extra": base64, or "... <SIZE>" when
 * @nopl asks for a summary as `crit show --nopl` does.
 */
#ifndef STASIS_IMGJSON_H
#define STASIS_IMGJSON_H

#include <stdbool.h>

#include "image.h"
#include "json.h"

int img_to_json(struct img *img, bool pretty, bool nopl, struct json **out);

/* Write image @j to @fd, closing it; @name is used in messages.  0 or -errno (logged). */
int json_to_img(const struct json *j, int fd, const char *name);

/* Number of entries, as `crit info` reports (the pagemap head not counted). */
int img_count(struct img *img, unsigned long *count);

#endif
