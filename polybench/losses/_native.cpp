// polybench's fused CPU kernel for the softmax family's short path (see _native.py).
//
// One call computes, for logits (N, C) and int64 class indices (N,), the per-sample loss
//
//     l_i = w_t (1 - p_t)^gamma (-log p_t + eps (1 - p_t)),    0 where t == ignore_index,
//
// which is Poly-1 cross-entropy (gamma = 0), focal (eps = 0) and Poly-1 focal, with the
// conventions of the eager short path in _softmax.py (`F.nll_loss` over the per-class form):
// `mean` divides by the summed w_t of the non-ignored samples, `sum` adds, `none` returns l.
// Its backward is one pass over (N, C): dl/dx_ij = (dl_i/dlog p_t) (delta_jt - p_ij).
//
// Precision: each row's log-sum-exp is accumulated in double, and the per-sample terms
// (log p_t, 1 - p_t = -expm1(log p_t), the power, the loss and its derivative) are computed in
// double and rounded once, so float32 results are at least as close to a float64 reference as
// the eager path's. (1 - p)^gamma follows `_targets.one_minus_power`: no clamp for gamma = 1 or
// an integer gamma > 1, otherwise 1 - p is clamped to the dtype's smallest normal number, where
// the derivative of the power is 0.
//
// Double backward (create_graph=True) recomputes the loss from differentiable ATen ops and
// differentiates that, so gradient penalties work as they do on the eager path.
#include <torch/extension.h>

#include <cmath>
#include <limits>
#include <string>

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

enum Reduction : int64_t { kNone = 0, kMean = 1, kSum = 2 };

int64_t reduction_code(const std::string& reduction) {
  if (reduction == "none") return kNone;
  if (reduction == "mean") return kMean;
  if (reduction == "sum") return kSum;
  TORCH_CHECK(false, "reduction must be 'none', 'mean' or 'sum', got '", reduction, "'");
}

bool clamps(double gamma) {
  return !(gamma == 1.0 || (gamma > 1.0 && std::floor(gamma) == gamma));
}

// (1 - p)^gamma and its derivative with respect to log p, at one sample.
struct Power {
  double value;
  double dlogp;
};

Power one_minus_power(double q, double p, double gamma, double tiny) {
  if (gamma == 0.0) return {1.0, 0.0};
  if (gamma == 2.0) return {q * q, -2.0 * q * p};
  if (gamma == 1.0) return {q, -p};
  if (clamps(gamma) && q < tiny) return {std::pow(tiny, gamma), 0.0};
  return {std::pow(q, gamma), -gamma * std::pow(q, gamma - 1.0) * p};
}

template <typename T>
struct Forward {
  // in
  const T* x;
  const int64_t* t;
  const T* w;  // nullptr: every class weighs 1
  int64_t N, C, ignore;
  double gamma, eps;
  // out
  T* e;         // (N, C): exp(x - row max), reused by the backward for p = e / s
  T* inv_s;     // (N,): 1 / sum_j e_ij
  T* dl;        // (N,): dl_i / dlog p_t (0 where ignored)
  T* per;       // (N,): l_i, or nullptr unless reduction is none
  double total;
  double normalizer;

  void run() {
    const double tiny = std::numeric_limits<T>::min();
    total = 0.0;
    normalizer = 0.0;
    for (int64_t i = 0; i < N; ++i) {
      const T* row = x + i * C;
      T* erow = e + i * C;
      T m = row[0];
      for (int64_t j = 1; j < C; ++j) m = row[j] > m ? row[j] : m;
      double s = 0.0;
      for (int64_t j = 0; j < C; ++j) {
        erow[j] = std::exp(row[j] - m);
        s += erow[j];
      }
      inv_s[i] = static_cast<T>(1.0 / s);
      const int64_t ti = t[i];
      if (ti == ignore) {
        dl[i] = 0;
        if (per) per[i] = 0;
        continue;
      }
      TORCH_CHECK(ti >= 0 && ti < C, "Target ", ti, " is out of bounds.");
      const double wt = w ? static_cast<double>(w[ti]) : 1.0;
      const double logp = (static_cast<double>(row[ti]) - static_cast<double>(m)) - std::log(s);
      const double q = -std::expm1(logp);  // 1 - p_t, exact near p_t = 1
      const double p = 1.0 - q;
      const double base = -logp + eps * q;
      const Power pw = one_minus_power(q, p, gamma, tiny);
      const double loss = wt * pw.value * base;
      dl[i] = static_cast<T>(wt * (pw.dlogp * base + pw.value * (-1.0 - eps * p)));
      if (per) per[i] = static_cast<T>(loss);
      total += loss;
      normalizer += wt;
    }
  }
};

// The same loss from differentiable ATen ops, for double backward only.
torch::Tensor composite(const torch::Tensor& logits, const torch::Tensor& target,
                        const torch::Tensor& weight, double gamma, double eps, int64_t ignore,
                        int64_t reduction) {
  auto log_p = torch::log_softmax(logits, 1);
  auto q = -torch::expm1(log_p);
  auto inner = log_p - eps * q;
  torch::Tensor power;
  if (gamma == 0.0) {
    power = torch::ones_like(q);
  } else if (gamma == 1.0) {
    power = q;
  } else if (!clamps(gamma)) {
    power = q.pow(gamma);
  } else {
    const double tiny = logits.scalar_type() == torch::kFloat
                            ? static_cast<double>(std::numeric_limits<float>::min())
                            : std::numeric_limits<double>::min();
    power = q.clamp_min(tiny).pow(gamma);
  }
  return torch::nll_loss(power * inner, target, weight, reduction, ignore);
}

struct SoftmaxFamily : public torch::autograd::Function<SoftmaxFamily> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& logits,
                               const torch::Tensor& target,
                               const std::optional<torch::Tensor>& weight_or_none,
                               double gamma, double eps, int64_t ignore, int64_t reduction) {
    TORCH_CHECK(logits.dim() == 2 && logits.device().is_cpu(), "expected CPU logits (N, C)");
    TORCH_CHECK(target.dim() == 1 && target.size(0) == logits.size(0) &&
                    target.scalar_type() == torch::kLong && target.device().is_cpu(),
                "expected int64 CPU target (N,)");
    const auto x = logits.contiguous();
    const auto t = target.contiguous();
    const int64_t N = x.size(0), C = x.size(1);
    TORCH_CHECK(C > 0, "expected at least one class");
    const torch::Tensor weight = weight_or_none.has_value() ? *weight_or_none : torch::Tensor();
    torch::Tensor w;
    if (weight.defined()) {
      TORCH_CHECK(weight.dim() == 1 && weight.size(0) == C &&
                      weight.scalar_type() == x.scalar_type() && weight.device().is_cpu(),
                  "expected a CPU weight (C,) in the logits' dtype");
      w = weight.contiguous();
    }
    auto e = torch::empty({N, C}, x.options());
    auto inv_s = torch::empty({N}, x.options());
    auto dl = torch::empty({N}, x.options());
    torch::Tensor per = reduction == kNone ? torch::empty({N}, x.options()) : torch::Tensor();
    double total = 0.0, normalizer = 0.0;
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "polybench_softmax_family", [&] {
      Forward<scalar_t> f{x.data_ptr<scalar_t>(),
                          t.data_ptr<int64_t>(),
                          w.defined() ? w.data_ptr<scalar_t>() : nullptr,
                          N, C, ignore, gamma, eps,
                          e.data_ptr<scalar_t>(),
                          inv_s.data_ptr<scalar_t>(),
                          dl.data_ptr<scalar_t>(),
                          per.defined() ? per.data_ptr<scalar_t>() : nullptr,
                          0.0, 0.0};
      f.run();
      total = f.total;
      normalizer = f.normalizer;
    });
    ctx->save_for_backward({logits, target, weight, e, inv_s, dl});
    ctx->saved_data["gamma"] = gamma;
    ctx->saved_data["eps"] = eps;
    ctx->saved_data["ignore"] = ignore;
    ctx->saved_data["reduction"] = reduction;
    ctx->saved_data["normalizer"] = normalizer;
    if (reduction == kNone) return per;
    const double value = reduction == kSum ? total : total / normalizer;
    return torch::scalar_tensor(value, x.options());
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& logits = saved[0];
    const auto& target = saved[1];
    const auto& weight = saved[2];
    const double gamma = ctx->saved_data["gamma"].toDouble();
    const double eps = ctx->saved_data["eps"].toDouble();
    const int64_t ignore = ctx->saved_data["ignore"].toInt();
    const int64_t reduction = ctx->saved_data["reduction"].toInt();
    const torch::Tensor none;
    if (torch::GradMode::is_enabled()) {  // create_graph: a differentiable gradient
      auto loss = composite(logits, target, weight, gamma, eps, ignore, reduction);
      auto g = torch::autograd::grad({loss}, {logits}, {grads[0]}, true, true);
      return {g[0], none, none, none, none, none, none};
    }
    const auto& e = saved[3];
    const auto& inv_s = saved[4];
    const auto& dl = saved[5];
    const auto t = target.contiguous();
    const int64_t N = e.size(0), C = e.size(1);
    auto gx = torch::empty({N, C}, e.options());
    const auto go = grads[0].contiguous();
    AT_DISPATCH_FLOATING_TYPES(e.scalar_type(), "polybench_softmax_family_backward", [&] {
      const scalar_t* ep = e.data_ptr<scalar_t>();
      const scalar_t* isp = inv_s.data_ptr<scalar_t>();
      const scalar_t* dlp = dl.data_ptr<scalar_t>();
      const int64_t* tp = t.data_ptr<int64_t>();
      const scalar_t* gop = go.data_ptr<scalar_t>();
      scalar_t scale = gop[0];
      if (reduction == kMean) {
        scale = static_cast<scalar_t>(gop[0] / ctx->saved_data["normalizer"].toDouble());
      }
      scalar_t* out = gx.data_ptr<scalar_t>();
      for (int64_t i = 0; i < N; ++i) {
        const scalar_t c = dlp[i] * (reduction == kNone ? gop[i] : scale);
        const scalar_t k = c * isp[i];
        scalar_t* orow = out + i * C;
        const scalar_t* erow = ep + i * C;
        for (int64_t j = 0; j < C; ++j) orow[j] = -k * erow[j];
        if (tp[i] != ignore) orow[tp[i]] += c;
      }
    });
    return {gx, none, none, none, none, none, none};
  }
};

torch::Tensor softmax_family(const torch::Tensor& logits, const torch::Tensor& target,
                             const std::optional<torch::Tensor>& weight, double gamma, double eps,
                             int64_t ignore_index, const std::string& reduction) {
  return SoftmaxFamily::apply(logits, target, weight, gamma, eps, ignore_index,
                              reduction_code(reduction));
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "polybench's fused CPU kernel for the softmax family's short path";
  m.def("softmax_family", &softmax_family, "l = w_t (1 - p_t)^gamma (-log p_t + eps (1 - p_t))");
}
