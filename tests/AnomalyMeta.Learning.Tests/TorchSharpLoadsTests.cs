using TorchSharp;
using static TorchSharp.torch;

namespace AnomalyMeta.Learning.Tests;

public sealed class TorchSharpLoadsTests
{
    [Fact]
    public void TorchSharp_loads_and_computes_a_second_order_gradient()
    {
        using var scope = NewDisposeScope();
        // f(x) = x^3: f'(x) = 3x^2, f''(x) = 6x. At x = 2: 12 and 12.
        var x = tensor(2.0f, requires_grad: true);
        var y = x.pow(3);
        var first = autograd.grad([y], [x], create_graph: true)[0];
        var second = autograd.grad([first], [x])[0];

        Assert.Equal(12f, first.item<float>(), 4);
        Assert.Equal(12f, second.item<float>(), 4);
    }
}
