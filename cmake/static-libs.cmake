# Loaded through CMAKE_USER_MAKE_RULES_OVERRIDE (after the platform defaults), so that
# find_library / pkg_check_modules pick static archives: used for the fully static arm64
# test build (scripts/test_arm64.sh).
set(CMAKE_FIND_LIBRARY_SUFFIXES .a)
