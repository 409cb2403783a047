#include <cstdio>
int main() { std::puts("linkwatch"); return 0; }
