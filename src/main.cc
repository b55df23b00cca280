// dase: one binary; the first argument picks a user command or an internal role.
#include "cli/cli.h"

int main(int argc, char** argv) { return dase::cli::Main(argc, argv); }
