/*
 * crit.h - pieces of the image tool shared between its files.
 */
#ifndef STASIS_CRIT_H
#define STASIS_CRIT_H

/* `crit x DIR WHAT`: print the tree, fds, memory maps or resident pages. */
int crit_explore(const char *dir, const char *what);

#endif
