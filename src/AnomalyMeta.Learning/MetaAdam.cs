using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AnomalyMeta.Learning;

/// <summary>
/// Adam (Kingma and Ba 2015, PyTorch's defaults: β1 0.9, β2 0.999, ε 1e-8, no weight decay) over the meta-parameters.
/// Written out rather than <c>optim.Adam</c> because TorchSharp 0.107's Adam passes implicit Scalars to native calls
/// (see <see cref="HeldScalars"/>); the arithmetic is the same, step for step.
/// </summary>
internal sealed class MetaAdam : IDisposable
{
    private const double Beta1 = 0.9, Beta2 = 0.999, Epsilon = 1e-8;

    private readonly IReadOnlyList<Parameter> _parameters;
    private readonly Tensor[] _firstMoments;
    private readonly Tensor[] _secondMoments;
    private readonly Scalar _beta1 = Beta1.ToScalar(), _oneMinusBeta1 = (1 - Beta1).ToScalar();
    private readonly Scalar _beta2 = Beta2.ToScalar(), _oneMinusBeta2 = (1 - Beta2).ToScalar();
    private readonly Scalar _epsilon = Epsilon.ToScalar();
    private long _steps;

    public MetaAdam(IReadOnlyList<Parameter> parameters)
    {
        _parameters = parameters;
        _firstMoments = new Tensor[parameters.Count];
        _secondMoments = new Tensor[parameters.Count];
        for (var i = 0; i < parameters.Count; i++)
        {
            _firstMoments[i] = zeros_like(parameters[i]).DetachFromDisposeScope();
            _secondMoments[i] = zeros_like(parameters[i]).DetachFromDisposeScope();
        }
    }

    /// <summary>Forgets the gradients of the last backward pass (backward accumulates into them).</summary>
    public void ZeroGrad()
    {
        foreach (var p in _parameters)
        {
            using var gradient = p.grad;
            gradient?.zero_();
        }
    }

    /// <summary>One Adam update of every parameter that has a gradient, at <paramref name="learningRate"/>.</summary>
    public void Step(double learningRate)
    {
        _steps++;
        var firstCorrection = 1 - Math.Pow(Beta1, _steps);
        var secondCorrection = 1 - Math.Pow(Beta2, _steps);
        using var noGrad = no_grad();
        using var denominatorScale = Math.Sqrt(secondCorrection).ToScalar();
        using var stepSize = (-learningRate / firstCorrection).ToScalar();
        for (var i = 0; i < _parameters.Count; i++)
        {
            using var gradient = _parameters[i].grad;
            if (gradient is null)
            {
                continue;
            }

            _firstMoments[i].mul_(_beta1).add_(gradient, _oneMinusBeta1);
            _secondMoments[i].mul_(_beta2).addcmul_(gradient, gradient, _oneMinusBeta2);
            using var denominator = _secondMoments[i].sqrt().div_(denominatorScale).add_(_epsilon, HeldScalars.One);
            _parameters[i].addcdiv_(_firstMoments[i], denominator, stepSize);
        }
    }

    public void Dispose()
    {
        foreach (var t in _firstMoments.Concat(_secondMoments))
        {
            t.Dispose();
        }

        foreach (var s in new[] { _beta1, _oneMinusBeta1, _beta2, _oneMinusBeta2, _epsilon })
        {
            s.Dispose();
        }
    }
}
