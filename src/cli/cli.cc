#include "cli/cli.h"
namespace dase::cli {
int Main(int, char**) { return 0; }
}
