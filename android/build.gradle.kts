// The Doorstep Kotlin library as an Android library module, for apps (not built on this machine,
// which has no Android SDK; here the same sources are built and tested with Maven: pom.xml).
// See docs/android.md for the whole recipe. In short, before assembling:
//
//   cargo ndk -t arm64-v8a -t armeabi-v7a -t x86_64 -o android/src/main/jniLibs \
//       build --release -p doorstep-ffi --lib
//   scripts/bindings.sh          # or: uniffi-bindgen generate --library <a built .so> --language kotlin \
//                                #     --out-dir android/build/generated/uniffi/kotlin --no-format
plugins {
    id("com.android.library") version "8.7.3"
    id("org.jetbrains.kotlin.android") version "2.4.21"
}

android {
    namespace = "org.doorstep"
    compileSdk = 35

    defaultConfig {
        minSdk = 26 // java.time, and the Keystore features docs/android.md uses
        consumerProguardFiles("consumer-rules.pro")
    }

    sourceSets["main"].apply {
        java.srcDirs("src/main/kotlin", "build/generated/uniffi/kotlin")
        jniLibs.srcDirs("src/main/jniLibs") // libdoorstep_ffi.so per ABI, from cargo-ndk
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    kotlinOptions { jvmTarget = "17" }
    packaging { jniLibs.keepDebugSymbols += "**/libdoorstep_ffi.so" }
}

dependencies {
    // On Android JNA comes as an AAR carrying its own native dispatch library.
    implementation("net.java.dev.jna:jna:5.19.1@aar")
    implementation("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.11.0")
    testImplementation("org.junit.jupiter:junit-jupiter:5.14.4")
}
