using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace AnomalyMeta.Learning;

/// <summary>
/// The MLP as pure functions of explicitly passed, batched parameters: the inner loop runs on adapted copies
/// without touching any module state, and one graph covers a whole batch of tasks.
/// Parameter list layout: [W0, b0, W1, b1, ...] with W [tasks, in, out] and b [tasks, 1, out].
/// </summary>
internal static class FunctionalMlp
{
    /// <summary>Predictions [tasks, points] for inputs [tasks, points, in].</summary>
    public static Tensor Forward(Tensor x, IReadOnlyList<Tensor> parameters)
    {
        var layers = parameters.Count / 2;
        var h = x;
        for (var l = 0; l < layers; l++)
        {
            // bmm + add rather than baddbmm: TorchSharp 0.107.0's baddbmm rotates its arguments.
            // Bias and ReLU in place on bmm's fresh output: autograd keeps bmm's inputs, not its output, and ReLU keeps
            // its result, so the graph and its floats are unchanged with two [tasks, points, out] tensors fewer per hidden
            // layer. Meta-training at K = 168 allocates ~20 of them (656 KiB each) per iteration; glibc's posix_memalign
            // cannot reuse the exact-size hole an earlier one left, so each one fewer is fewer heap grow/trim page faults.
            h = bmm(h, parameters[2 * l]).add_(parameters[(2 * l) + 1], HeldScalars.One);   // [tasks, points, out]
            if (l < layers - 1)
            {
                h = h.relu_();
            }
        }

        return h.squeeze(-1);   // [tasks, points]
    }

    /// <summary>
    /// One task-batched SGD step with hand-derived gradients of the per-task mean squared error (no autograd graph),
    /// updating <paramref name="parameters"/> in place: the adapted weights overwrite the old ones, the gradients are
    /// scaled in place and the ReLU mask overwrites the activation it comes from, so a step allocates only what dies
    /// with it.
    /// </summary>
    public static void SgdStepInPlace(Tensor x, Tensor y, IReadOnlyList<Tensor> parameters, IReadOnlyList<Tensor>? stepSizes, float learningRate)
    {
        var layers = parameters.Count / 2;
        var points = x.shape[1];
        var activations = new Tensor[layers];   // input of each layer, [tasks, points, in]
        var h = x;
        for (var l = 0; l < layers; l++)
        {
            activations[l] = h;
            h = Times(h, parameters[2 * l]).add_(parameters[(2 * l) + 1], HeldScalars.One);
            if (l < layers - 1)
            {
                h = h.relu_();
            }
        }

        // d(mean_k (p - y)^2)/dp = 2 (p - y) / K, per task.
        using var lossScale = (2.0f / points).ToScalar();
        using var rate = learningRate.ToScalar();
        var delta = (h - y.unsqueeze(-1)).mul_(lossScale);   // [tasks, points, 1]
        for (var l = layers - 1; l >= 0; l--)
        {
            var input = activations[l];
            var weightGradient = bmm(input.transpose(1, 2), delta);   // [tasks, in, out]
            var biasGradient = delta.sum(1, keepdim: true);            // [tasks, 1, out]
            if (l > 0)
            {
                // Before the update: the gradient flows back through the weights it was computed with. ReLU passes
                // gradient where its output was positive; the layer input is that output, not needed after this, so
                // its sign becomes the 0/1 mask in place (a float mask: multiplying by a bool comparison was ~10x
                // slower in libtorch).
                delta = Times(delta, parameters[2 * l].transpose(1, 2)).mul_(input.sign_());   // [tasks, points, in]
            }

            if (stepSizes is null)
            {
                parameters[2 * l].sub_(weightGradient.mul_(rate));
                parameters[(2 * l) + 1].sub_(biasGradient.mul_(rate));
            }
            else
            {
                parameters[2 * l].sub_(weightGradient.mul_(stepSizes[2 * l]));
                parameters[(2 * l) + 1].sub_(biasGradient.mul_(stepSizes[(2 * l) + 1]));
            }
        }
    }

    /// <summary>
    /// bmm(a, b) for a [tasks, n, k] and b [tasks, k, m]. With k = 1 (a one-input first layer, the backward pass of the
    /// one-output last layer) the product is an outer product: a broadcast multiply gives the same floats, 5-10% faster.
    /// </summary>
    private static Tensor Times(Tensor a, Tensor b) => a.shape[2] == 1 ? a * b : bmm(a, b);

    /// <summary>Per-task copies of shared parameters: W [in, out] -> [tasks, in, out], b [out] -> [tasks, 1, out], differentiable back to the shared ones.</summary>
    public static Tensor[] Broadcast(IReadOnlyList<Tensor> shared, long tasks)
    {
        var batched = new Tensor[shared.Count];
        for (var i = 0; i < shared.Count; i++)
        {
            var p = shared[i];
            // Materialised, not a stride-0 view: libtorch's bmm (and its backward) falls off the BLAS path
            // for expanded batch operands and ran ~50x slower in the meta-training loop.
            batched[i] = p.dim() == 2
                ? p.unsqueeze(0).expand(tasks, p.shape[0], p.shape[1]).contiguous()
                : p.view(1, 1, p.shape[0]).expand(tasks, 1, p.shape[0]).contiguous();
        }

        return batched;
    }

    /// <summary>Copies floats into a new tensor of the given shape (one copy, no intermediate array).</summary>
    public static Tensor FromSpan(ReadOnlySpan<float> values, params long[] shape)
    {
        var t = empty(shape, ScalarType.Float32);
        values.CopyTo(MemoryMarshal.Cast<byte, float>(t.bytes));
        return t;
    }

    /// <summary>Copies a contiguous float tensor out.</summary>
    public static void CopyTo(Tensor tensor, Span<float> destination)
    {
        var source = tensor.is_contiguous() ? tensor : tensor.contiguous();
        MemoryMarshal.Cast<byte, float>(source.bytes).CopyTo(destination);
    }

    /// <summary>Applies (x - mean) / scale over the last dimension, or returns x when the normalisation is the identity.</summary>
    public static Tensor Normalize(Tensor x, InputNormalization normalization)
    {
        if (normalization.IsIdentity)
        {
            return x;
        }

        var inputs = normalization.Mean.Count;
        var mean = new float[inputs];
        var scale = new float[inputs];
        for (var i = 0; i < inputs; i++)
        {
            mean[i] = normalization.Mean[i];
            scale[i] = normalization.Scale[i];
        }

        return (x - tensor(mean)) / tensor(scale);
    }
}
