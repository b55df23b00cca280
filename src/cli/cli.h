#pragma once
namespace dase::cli {
int Main(int argc, char** argv);
}
