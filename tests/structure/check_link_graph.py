#!/usr/bin/python3
"""Checks that CMake's link graph is the real dependency graph.

Every `#include "folder/file.h"` of a target's files (its sources, and the
headers that belong to it) must name a header whose owning library the target
links, directly or through the usage requirements (PUBLIC / INTERFACE links)
of what it links; every `#include <...>` of a known third-party library the
same. And every project library a target links directly must be included by
at least one of its files (a link nothing uses is a dependency the code does
not have).

The graph is the one CMake configured: the top-level CMakeLists.txt writes
each target's folder, sources, links and usage requirements to
link_graph.txt in the build folder (see linkwatch_write_link_graph there).

A header belongs to the target that compiles the .cc of the same name, else
to the library of its folder (the one with the most sources there; folders
below a library's own belong to it). Headers of executables' folders (test
helpers) are private to them and not checked.

Usage: check_link_graph.py SOURCE_DIR LINK_GRAPH_FILE
"""
import os
import re
import sys

# Third-party headers by include prefix, and the imported targets that
# provide them (any one of them will do).
THIRD_PARTY = [
    ("prometheus/", {"prometheus-cpp::core", "prometheus-cpp::pull"}),
    ("yaml-cpp/", {"yaml-cpp", "yaml-cpp::yaml-cpp"}),
    ("nlohmann/", {"nlohmann_json::nlohmann_json"}),
    ("spdlog/", {"spdlog::spdlog"}),
    ("curl/", {"CURL::libcurl"}),
    ("boost/", {"Boost::headers", "Boost::boost"}),
    ("sqlite3.h", {"SQLite::SQLite3"}),
    ("openssl/", {"OpenSSL::Crypto", "OpenSSL::SSL"}),
    ("zlib.h", {"ZLIB::ZLIB"}),
    ("date/", {"date::date"}),
    ("CLI/", {"CLI11::CLI11"}),
    ("gtest/", {"GTest::gtest", "GTest::gtest_main"}),
    ("gmock/", {"GTest::gmock", "GTest::gmock_main"}),
    ("benchmark/", {"benchmark::benchmark", "benchmark::benchmark_main"}),
]

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)


def read_graph(path):
    targets, cur = {}, None
    with open(path) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition(" ")
            if key == "target":
                cur = targets.setdefault(value, {})
            else:
                cur[key] = [v for v in value.split(";") if v]
    for t in targets.values():
        t["dir"] = t.get("dir", [""])[0]
        t["type"] = t.get("type", [""])[0]
    return targets


def main():
    src, graph_file = sys.argv[1], sys.argv[2]
    targets = read_graph(graph_file)
    rel = lambda p: os.path.relpath(p, src)

    # Who owns which file.
    owner_of_file = {}
    folder_libs = {}
    for name, t in targets.items():
        folder = rel(t["dir"])
        for s in t.get("sources", []):
            path = os.path.normpath(os.path.join(folder, s))
            owner_of_file[path] = name
            owner_of_file[os.path.splitext(path)[0] + ".h"] = name
        folder_libs.setdefault(folder, []).append(name)

    def folder_owner(folder):
        while folder not in ("", "."):
            if folder in folder_libs:
                return max(folder_libs[folder], key=lambda n: len(targets[n].get("sources", [])))
            folder = os.path.dirname(folder)
        return None

    def owner(header):
        return owner_of_file.get(header) or folder_owner(os.path.dirname(header))

    def usage(name, seen):
        # The targets whose headers `name`'s users may include: itself and,
        # through usage requirements, what it links PUBLIC / INTERFACE.
        if name in seen:
            return
        seen.add(name)
        for dep in targets.get(name, {}).get("interface", []):
            usage(dep, seen)

    def visible(name):
        seen = {name}
        for dep in targets[name].get("links", []):
            usage(dep, seen)
        return seen

    # Each target's files: its sources and the headers it owns.
    files_of = {name: set() for name in targets}
    for root, dirs, files in os.walk(src):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("build", "node_modules")
                   and not d.startswith("build-")]
        for f in files:
            path = rel(os.path.join(root, f))
            if f.endswith(".cc") and path in owner_of_file:
                files_of[owner_of_file[path]].add(path)
            elif f.endswith(".h"):
                o = owner(path)
                if o is not None:
                    files_of[o].add(path)

    problems = []
    for name, t in sorted(targets.items()):
        if t["type"] not in ("STATIC_LIBRARY", "SHARED_LIBRARY", "EXECUTABLE", "OBJECT_LIBRARY"):
            continue
        can_see = visible(name)
        used_libs = set()
        for path in sorted(files_of[name]):
            with open(os.path.join(src, path), errors="replace") as f:
                text = f.read()
            for m in INCLUDE.finditer(text):
                kind, inc = m.group(1), m.group(2)
                if kind == '"' and "/" in inc:
                    if not os.path.exists(os.path.join(src, inc)):
                        problems.append(f"{path}: includes {inc}, which does not exist")
                        continue
                    o = owner(inc)
                    if o is None or o == name:
                        continue
                    if targets[o]["type"] == "EXECUTABLE":
                        continue  # a test helper header, private to its folder
                    used_libs.add(o)
                    if o not in can_see:
                        problems.append(f"{path}: includes {inc} of {o}, which {name} does not link")
                elif kind == "<":
                    for prefix, provide in THIRD_PARTY:
                        if inc.startswith(prefix):
                            if not (provide & can_see):
                                problems.append(f"{path}: includes <{inc}>, but {name} links none "
                                                f"of {', '.join(sorted(provide))}")
                            break
        for dep in t.get("links", []):
            if dep in targets and targets[dep]["type"].endswith("LIBRARY") and dep not in used_libs:
                problems.append(f"{name} links {dep} but none of its files includes a header of it")
    for p in problems:
        print(p)
    checked = sum(1 for t in targets.values() if t["type"] != "INTERFACE_LIBRARY")
    print(f"{checked} targets checked, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
