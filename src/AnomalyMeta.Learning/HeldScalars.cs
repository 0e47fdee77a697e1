using TorchSharp;

namespace AnomalyMeta.Learning;

/// <summary>
/// Scalars that outlive every native call they are passed to. TorchSharp 0.107 converts numbers to <see cref="Scalar"/>
/// implicitly (<c>t.add_(u)</c> is <c>t.add_(u, 1)</c>, <c>t.square()</c> is <c>t.pow(2)</c>, <c>0.1f * t</c> is <c>t.mul(0.1f)</c>) and drops the only reference
/// to that Scalar as the native call starts. A garbage collection on another thread can then run its finalizer, which
/// frees it while libtorch is reading it: CI once failed with libtorch's "Expected false to be true" from
/// <c>Scalar::toFloat</c> on a freed alpha. So no Scalar is made implicitly on our paths: constants live here for the
/// process, and a per-call value is made with <c>ToScalar()</c> in a <c>using</c>, which keeps it alive to the end of its scope.
/// </summary>
internal static class HeldScalars
{
    public static readonly Scalar One = 1f.ToScalar();

    /// <summary>The exponent of a square: <c>pow(Two)</c> is <c>square()</c> without its implicit Scalar.</summary>
    public static readonly Scalar Two = 2f.ToScalar();
}
