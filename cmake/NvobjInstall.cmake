# Installs libraries, headers, tools, a CMake package (find_package(nvobj) ->
# nvobj::runtime, nvobj::allocator, nvobj::recovery) and a pkg-config file. Components register their targets
# with the NVOBJ_INSTALL_TARGETS / NVOBJ_INSTALL_PROGRAMS global properties.
include(CMakePackageConfigHelpers)

get_property(nvobj_libs GLOBAL PROPERTY NVOBJ_INSTALL_TARGETS)
get_property(nvobj_programs GLOBAL PROPERTY NVOBJ_INSTALL_PROGRAMS)

install(TARGETS ${nvobj_libs} EXPORT nvobjTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(nvobj_programs)
  install(TARGETS ${nvobj_programs} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

set(nvobj_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/nvobj)
install(EXPORT nvobjTargets NAMESPACE nvobj:: DESTINATION ${nvobj_cmake_dir})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/nvobjConfig.cmake.in
  ${PROJECT_BINARY_DIR}/nvobjConfig.cmake INSTALL_DESTINATION ${nvobj_cmake_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/nvobjConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/nvobjConfig.cmake ${PROJECT_BINARY_DIR}/nvobjConfigVersion.cmake
        DESTINATION ${nvobj_cmake_dir})

# Relocatable: the prefix is found from the .pc file's own directory.
file(RELATIVE_PATH NVOBJ_PC_RELATIVE_PREFIX "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
string(REGEX REPLACE "/$" "" NVOBJ_PC_RELATIVE_PREFIX "${NVOBJ_PC_RELATIVE_PREFIX}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/nvobj.pc.in ${PROJECT_BINARY_DIR}/nvobj.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/nvobj.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
