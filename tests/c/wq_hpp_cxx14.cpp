// Included as C++14: wq.hpp must stop with a message naming C++17.
#include "wq.hpp"

int main() { return 0; }
