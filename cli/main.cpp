// kakuren: a thin main; everything lives in cli/app.cpp.
namespace kakuren::cli {
int main(int argc, char** argv);
}

int main(int argc, char** argv) {
    return kakuren::cli::main(argc, argv);
}
