// swift-tools-version:5.9
//
// Doorstep for Swift: the generated UniFFI bindings (DoorstepFFI + the C module DoorstepFFIC,
// written into Generated/ by scripts/bindings.sh from the built library, never committed) and a
// thin async layer (Doorstep). On this Linux machine the tests link the host-built
// libdoorstep_ffi.so; an iOS app links the XCFramework instead (docs/ios.md).
//
//   DOORSTEP_LIB_DIR=<dir with libdoorstep_ffi.so>   (default ../target/debug)
import Foundation
import PackageDescription

let libDir = ProcessInfo.processInfo.environment["DOORSTEP_LIB_DIR"] ?? "../target/debug"

let package = Package(
    name: "Doorstep",
    platforms: [.iOS(.v15), .macOS(.v12)],
    products: [
        .library(name: "Doorstep", targets: ["Doorstep"]),
    ],
    targets: [
        .target(name: "DoorstepFFIC", path: "Generated/DoorstepFFIC"),
        .target(
            name: "DoorstepFFI",
            dependencies: ["DoorstepFFIC"],
            path: "Generated/DoorstepFFI",
            linkerSettings: [.unsafeFlags(["-L", libDir])]
        ),
        // Linux only: a symbol Debian's Swift 6.0.3 Observation library needs (see shims.c).
        .target(name: "LinuxShims", path: "Sources/LinuxShims"),
        .target(
            name: "Doorstep",
            dependencies: ["DoorstepFFI", .target(name: "LinuxShims", condition: .when(platforms: [.linux]))],
            path: "Sources/Doorstep",
            swiftSettings: [.enableExperimentalFeature("StrictConcurrency")]
        ),
        .executableTarget(
            name: "BoundaryBench",
            dependencies: ["Doorstep"],
            path: "Sources/BoundaryBench"
        ),
        .testTarget(
            name: "DoorstepTests",
            dependencies: ["Doorstep"],
            path: "Tests/DoorstepTests"
        ),
    ]
)
