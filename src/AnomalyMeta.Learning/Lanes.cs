using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace AnomalyMeta.Learning;

/// <summary>
/// One vector register of float lanes. <see cref="FastAdapter"/>'s kernels are written once against this interface:
/// the JIT compiles a generic method separately for each struct argument and inlines these members to single
/// instructions, so the same source runs 16 lanes wide with AVX-512, 8 with AVX2, and one at a time elsewhere.
/// </summary>
internal interface ILanes<TSelf>
    where TSelf : struct, ILanes<TSelf>
{
    static abstract int Count { get; }

    static abstract TSelf Zero { get; }

    static abstract unsafe TSelf Load(float* source);

    static abstract TSelf Broadcast(float value);

    /// <summary>a * b + addend, rounded once.</summary>
    static abstract TSelf MultiplyAdd(TSelf a, TSelf b, TSelf addend);

    /// <summary>addend - a * b, rounded once.</summary>
    static abstract TSelf NegatedMultiplyAdd(TSelf a, TSelf b, TSelf addend);

    static abstract TSelf Add(TSelf a, TSelf b);

    /// <summary>
    /// max(0, x) as one <c>vmaxps</c>, without <see cref="Vector512.Max{T}"/>'s fix-up instructions. With zero first, the
    /// instruction returns x when x is NaN, so a NaN still reaches the forecast and the series is reported diverged.
    /// </summary>
    static abstract TSelf Relu(TSelf x);

    /// <summary>x in the lanes where gate is above zero, zero elsewhere: a ReLU's derivative applied without a branch.</summary>
    static abstract TSelf WherePositive(TSelf gate, TSelf x);

    /// <summary>The sums of four registers' lanes, as one vector: a quarter of the shuffles of four separate sums.</summary>
    static abstract Vector128<float> SumOfEach(TSelf a, TSelf b, TSelf c, TSelf d);

    unsafe void Store(float* destination);
}

/// <summary>16 floats: AVX-512.</summary>
internal readonly struct Lanes512(Vector512<float> value) : ILanes<Lanes512>
{
    private readonly Vector512<float> _value = value;

    public static int Count => Vector512<float>.Count;

    public static Lanes512 Zero => new(Vector512<float>.Zero);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Lanes512 Load(float* source) => new(Vector512.Load(source));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes512 Broadcast(float value) => new(Vector512.Create(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes512 MultiplyAdd(Lanes512 a, Lanes512 b, Lanes512 addend) => new(Vector512.FusedMultiplyAdd(a._value, b._value, addend._value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes512 NegatedMultiplyAdd(Lanes512 a, Lanes512 b, Lanes512 addend) => new(Vector512.FusedMultiplyAdd(-a._value, b._value, addend._value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes512 Add(Lanes512 a, Lanes512 b) => new(a._value + b._value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes512 Relu(Lanes512 x) => new(Avx512F.Max(Vector512<float>.Zero, x._value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes512 WherePositive(Lanes512 gate, Lanes512 x) => new(x._value & Vector512.GreaterThan(gate._value, Vector512<float>.Zero));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> SumOfEach(Lanes512 a, Lanes512 b, Lanes512 c, Lanes512 d) => Lanes256.SumOfEach(
        new(a._value.GetLower() + a._value.GetUpper()), new(b._value.GetLower() + b._value.GetUpper()),
        new(c._value.GetLower() + c._value.GetUpper()), new(d._value.GetLower() + d._value.GetUpper()));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public unsafe void Store(float* destination) => _value.Store(destination);
}

/// <summary>8 floats: AVX2.</summary>
internal readonly struct Lanes256(Vector256<float> value) : ILanes<Lanes256>
{
    private readonly Vector256<float> _value = value;

    public static int Count => Vector256<float>.Count;

    public static Lanes256 Zero => new(Vector256<float>.Zero);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Lanes256 Load(float* source) => new(Vector256.Load(source));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256 Broadcast(float value) => new(Vector256.Create(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256 MultiplyAdd(Lanes256 a, Lanes256 b, Lanes256 addend) => new(Vector256.FusedMultiplyAdd(a._value, b._value, addend._value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256 NegatedMultiplyAdd(Lanes256 a, Lanes256 b, Lanes256 addend) => new(Vector256.FusedMultiplyAdd(-a._value, b._value, addend._value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256 Add(Lanes256 a, Lanes256 b) => new(a._value + b._value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256 Relu(Lanes256 x) => new(Avx.Max(Vector256<float>.Zero, x._value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256 WherePositive(Lanes256 gate, Lanes256 x) => new(x._value & Vector256.GreaterThan(gate._value, Vector256<float>.Zero));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> SumOfEach(Lanes256 a, Lanes256 b, Lanes256 c, Lanes256 d)
    {
        var sums = Avx.HorizontalAdd(Avx.HorizontalAdd(a._value, b._value), Avx.HorizontalAdd(c._value, d._value));   // [a b c d of lanes 0-3 | of lanes 4-7]
        return sums.GetLower() + sums.GetUpper();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public unsafe void Store(float* destination) => _value.Store(destination);
}

/// <summary>One float: machines without accelerated vectors.</summary>
internal readonly struct Lanes1(float value) : ILanes<Lanes1>
{
    private readonly float _value = value;

    public static int Count => 1;

    public static Lanes1 Zero => new(0f);

    public static unsafe Lanes1 Load(float* source) => new(*source);

    public static Lanes1 Broadcast(float value) => new(value);

    public static Lanes1 MultiplyAdd(Lanes1 a, Lanes1 b, Lanes1 addend) => new(MathF.FusedMultiplyAdd(a._value, b._value, addend._value));

    public static Lanes1 NegatedMultiplyAdd(Lanes1 a, Lanes1 b, Lanes1 addend) => new(MathF.FusedMultiplyAdd(-a._value, b._value, addend._value));

    public static Lanes1 Add(Lanes1 a, Lanes1 b) => new(a._value + b._value);

    public static Lanes1 Relu(Lanes1 x) => new(MathF.Max(x._value, 0f));

    public static Lanes1 WherePositive(Lanes1 gate, Lanes1 x) => new(gate._value > 0f ? x._value : 0f);

    public static Vector128<float> SumOfEach(Lanes1 a, Lanes1 b, Lanes1 c, Lanes1 d) => Vector128.Create(a._value, b._value, c._value, d._value);

    public unsafe void Store(float* destination) => *destination = _value;
}
