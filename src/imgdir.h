/*
 * imgdir.h - the images directory of a dump (imgdir.c): over an earlier
 * dump, images are written into a hidden directory inside it and moved to
 * their names only when the dump is complete, so a failed dump never
 * harms the earlier one; into an empty directory, in place.  Either way
 * inventory.img, the mark of a complete dump, appears last.
 */
#ifndef STASIS_IMGDIR_H
#define STASIS_IMGDIR_H

#include <stdbool.h>

struct imgdir {
	int fd;			/* where images are written now */
	int last_fd;		/* where inventory.img is: the hidden directory */
	int final_fd;		/* the directory the user named */
	bool in_place;		/* fd is final_fd's directory: it held no dump */
	char tmp[32];		/* last_fd's name inside final_fd */
};

/* Create (if need be) and open @path, and a fresh hidden directory in it; 0 or -errno. */
int imgdir_open(struct imgdir *dir, const char *path);
/* Move every image to its name in the user's directory, inventory.img last. */
int imgdir_publish(struct imgdir *dir);
/*
 * Close them; with @discard, remove the hidden directory and what is in
 * it, and what an in-place dump wrote.
 */
void imgdir_close(struct imgdir *dir, bool discard);
/*
 * The work directory (-W) in *@fd when it is another directory than the
 * images directory @images_fd, else -1 there: 0 or -errno.
 */
int imgdir_work_open(const char *work_dir, int images_fd, int *fd);

#endif
