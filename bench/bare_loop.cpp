// A bare LibTorch training loop: the reference that `kakuren run` (strategy none) is timed
// against. The same CNN as the trainer's default "cnn" (conv16-conv32-fc64-fc10, 105,866
// parameters) on Fashion-MNIST, SGD momentum 0.9, lr 0.05, weight decay 5e-4, batch 128, a
// random permutation per epoch, per-sample losses kept with index_put_, no evaluation.
//
// Usage: kakuren_bench_bare_loop [--epochs N] [--threads T] [--data DIR]
// Prints one JSON line per epoch: {"epoch": k, "train_s": s, "loss": mean training loss}.
#include <malloc.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

#include <torch/torch.h>

#include "trainer/data.hpp"

namespace {

struct Net : torch::nn::Module {
    Net()
        : conv1(register_module("conv1",
                                torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 16, 3).padding(1)))),
          conv2(register_module("conv2",
                                torch::nn::Conv2d(torch::nn::Conv2dOptions(16, 32, 3).padding(1)))),
          fc1(register_module("fc1", torch::nn::Linear(32 * 7 * 7, 64))),
          fc2(register_module("fc2", torch::nn::Linear(64, 10))) {}

    torch::Tensor forward(const torch::Tensor& images) {
        torch::Tensor x = torch::max_pool2d(torch::relu(conv1->forward(images)), 2);
        x = torch::max_pool2d(torch::relu(conv2->forward(x)), 2);
        x = torch::relu(fc1->forward(x.flatten(1)));
        return fc2->forward(x);
    }

    torch::nn::Conv2d conv1, conv2;
    torch::nn::Linear fc1, fc2;
};

int run(int argc, char** argv) {
    // The same allocator settings as kakuren's trainer (trainer/loop.cpp tune_malloc), so the
    // comparison measures the loop and not glibc's heap trimming.
    mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
    int epochs = 1;
    int threads = 1;
    std::string dir = "/usr/share/datasets/fashion-mnist";
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (i + 1 >= argc) {
            std::fprintf(stderr, "usage: %s [--epochs N] [--threads T] [--data DIR]\n", argv[0]);
            return 2;
        }
        if (arg == "--epochs") {
            epochs = std::atoi(argv[++i]);
        } else if (arg == "--threads") {
            threads = std::atoi(argv[++i]);
        } else if (arg == "--data") {
            dir = argv[++i];
        } else {
            std::fprintf(stderr, "unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    at::set_num_threads(threads);

    kakuren::trainer::DataConfig config;
    config.dataset = "fashion-mnist";
    config.train_images = dir + "/train-images-idx3-ubyte.gz";
    config.train_labels = dir + "/train-labels-idx1-ubyte.gz";
    config.test_images = dir + "/t10k-images-idx3-ubyte.gz";
    config.test_labels = dir + "/t10k-labels-idx1-ubyte.gz";
    const kakuren::trainer::DataSplits data = kakuren::trainer::load_data(config);
    const torch::Tensor& images = data.train.images;
    const torch::Tensor& labels = data.train.labels;
    const std::int64_t n = data.train.size();
    const std::int64_t batch = 128;

    torch::manual_seed(1);
    auto net = std::make_shared<Net>();
    torch::optim::SGD optimizer(net->parameters(),
                                torch::optim::SGDOptions(0.05).momentum(0.9).weight_decay(5e-4));
    torch::Tensor sample_loss = torch::ones({n});

    for (int epoch = 1; epoch <= epochs; ++epoch) {
        const auto start = std::chrono::steady_clock::now();
        const torch::Tensor perm = torch::randperm(n, torch::kInt64);
        for (std::int64_t begin = 0; begin < n; begin += batch) {
            const torch::Tensor ids = perm.narrow(0, begin, std::min(batch, n - begin));
            const torch::Tensor x = images.index_select(0, ids);
            const torch::Tensor y = labels.index_select(0, ids);
            const torch::Tensor losses =
                torch::cross_entropy_loss(net->forward(x), y, {}, at::Reduction::None);
            const torch::Tensor loss = losses.mean();
            optimizer.zero_grad();
            loss.backward();
            optimizer.step();
            sample_loss.index_put_({ids}, losses.detach());
        }
        const double train_s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::printf("{\"epoch\": %d, \"train_s\": %.4f, \"loss\": %.6f}\n", epoch, train_s,
                    sample_loss.mean().item<double>());
        std::fflush(stdout);
    }
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "kakuren_bench_bare_loop: error: %s\n", e.what());
        return 1;
    }
}
