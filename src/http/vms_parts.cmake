# Temporary: the vms core pieces built from here until the lead moves them to src/vms.
dase_library(dase_vms_core
  SRCS ../vms/auth.cc ../vms/rest.cc
  DEPS dase_http PkgConfig::ARGON2 Boost::json Boost::url)
dase_test(vms_core_test SRCS ../vms/auth_test.cc ../vms/rest_test.cc DEPS dase_vms_core)
