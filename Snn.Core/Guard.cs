using static TorchSharp.torch;

namespace Snn.Core;

/// <summary>
/// Argument validation in one public place: every failure is an <see cref="ArgumentException"/>
/// that names the parameter, the value and the valid range.
/// </summary>
public static class Guard
{
    /// <summary>Requires a finite scalar &gt; 0.</summary>
    /// <param name="value">The value to check; valid range (0, +inf).</param>
    /// <param name="name">The parameter's name, used in the message.</param>
    public static double Positive(double value, string name)
    {
        if (!(value > 0) || double.IsInfinity(value))
        {
            throw new ArgumentException($"{name} = {value} is out of range: expected a finite value > 0", name);
        }

        return value;
    }

    /// <summary>Requires a finite scalar (not NaN, not infinite).</summary>
    /// <param name="value">The value to check; valid range (-inf, +inf), finite.</param>
    /// <param name="name">The parameter's name, used in the message.</param>
    public static double Finite(double value, string name)
    {
        if (!double.IsFinite(value))
        {
            throw new ArgumentException($"{name} = {value} is out of range: expected a finite value", name);
        }

        return value;
    }

    /// <summary>Requires a finite scalar &gt;= 0 (operation counts, energies).</summary>
    /// <param name="value">The value to check; valid range [0, +inf), finite.</param>
    /// <param name="name">The parameter's name, used in the message.</param>
    public static double NonNegative(double value, string name)
    {
        if (!(value >= 0) || double.IsInfinity(value))
        {
            throw new ArgumentException($"{name} = {value} is out of range: expected a finite value >= 0", name);
        }

        return value;
    }

    /// <summary>Requires every entry of a tensor to be finite and &gt; 0 (thresholds).</summary>
    /// <param name="value">The tensor to check; every entry in (0, +inf).</param>
    /// <param name="name">The parameter's name, used in the message.</param>
    public static void Positive(Tensor value, string name)
    {
        if (value.numel() == 0)
        {
            throw new ArgumentException($"{name} is empty: expected at least one finite value > 0", name);
        }

        using var scope = NewDisposeScope();
        var asDouble = value.detach().to_type(ScalarType.Float64);
        var m = asDouble.min().item<double>();
        var big = asDouble.max().item<double>();
        if (!(m > 0))
        {
            throw new ArgumentException($"{name} has an entry {m}: expected every entry finite and > 0", name);
        }

        if (!double.IsFinite(big))
        {
            throw new ArgumentException($"{name} has an entry {big}: expected every entry finite and > 0", name);
        }
    }

    /// <summary>Requires every entry of a tensor to be &gt;= 0 (spike counts).</summary>
    /// <param name="value">The tensor to check; every entry in [0, +inf).</param>
    /// <param name="name">The parameter's name, used in the message.</param>
    public static void NonNegative(Tensor value, string name)
    {
        if (value.numel() == 0)
        {
            return;
        }

        using var scope = NewDisposeScope();
        var m = value.detach().min().to_type(ScalarType.Float64).item<double>();
        if (!(m >= 0))
        {
            throw new ArgumentException($"{name} has an entry {m}: expected every entry >= 0", name);
        }
    }

    /// <summary>Requires <paramref name="value"/> to be a positive multiple of <paramref name="divisor"/>.</summary>
    /// <param name="value">The value to check; valid: value = k * divisor for an integer k &gt;= 1.</param>
    /// <param name="divisor">The divisor, &gt;= 1.</param>
    /// <param name="name">The parameter's name, used in the message.</param>
    /// <param name="meaning">What the value is, e.g. "input channels".</param>
    public static long MultipleOf(long value, long divisor, string name, string meaning)
    {
        if (divisor < 1 || value < divisor || value % divisor != 0)
        {
            throw new ArgumentException(
                $"{name}: {meaning} = {value} is out of range: expected a positive multiple of {divisor}", name);
        }

        return value;
    }

    /// <summary>Requires an integer &gt;= <paramref name="minimum"/>.</summary>
    /// <param name="value">The value to check.</param>
    /// <param name="minimum">The smallest valid value.</param>
    /// <param name="name">The parameter's name, used in the message.</param>
    /// <param name="meaning">What the value is, e.g. "time steps T".</param>
    public static long AtLeast(long value, long minimum, string name, string meaning)
    {
        if (value < minimum)
        {
            throw new ArgumentException($"{name}: {meaning} = {value} is out of range: expected >= {minimum}", name);
        }

        return value;
    }

    /// <summary>Requires a probability in [0, 1).</summary>
    /// <param name="value">The value to check; valid range [0, 1).</param>
    /// <param name="name">The parameter's name, used in the message.</param>
    public static double UnitIntervalOpen(double value, string name)
    {
        if (!(value >= 0 && value < 1))
        {
            throw new ArgumentException($"{name} = {value} is out of range: expected a probability in [0, 1)", name);
        }

        return value;
    }

    /// <summary>Requires a tensor of rank at least <paramref name="rank"/>.</summary>
    /// <param name="value">The tensor to check.</param>
    /// <param name="rank">The smallest valid number of dimensions.</param>
    /// <param name="name">The parameter's name, used in the message.</param>
    /// <param name="expected">The expected layout, e.g. "[T, B, ...]".</param>
    public static void Rank(Tensor value, int rank, string name, string expected)
    {
        if (value.dim() < rank)
        {
            throw new ArgumentException(
                $"{name} has shape [{string.Join(", ", value.shape)}]: expected {expected}", name);
        }
    }

    /// <summary>Requires two tensors to have the same shape.</summary>
    /// <param name="value">The tensor to check.</param>
    /// <param name="shape">The required shape.</param>
    /// <param name="name">The parameter's name, used in the message.</param>
    public static void SameShape(Tensor value, long[] shape, string name)
    {
        if (!value.shape.SequenceEqual(shape))
        {
            throw new ArgumentException(
                $"{name} has shape [{string.Join(", ", value.shape)}]: expected [{string.Join(", ", shape)}]", name);
        }
    }

    /// <summary>Requires <paramref name="value"/> to broadcast to <paramref name="shape"/> without growing it.</summary>
    /// <param name="value">The tensor to check.</param>
    /// <param name="shape">The target shape.</param>
    /// <param name="name">The parameter's name, used in the message.</param>
    public static void Broadcastable(Tensor value, long[] shape, string name)
    {
        var vs = value.shape;
        var ok = vs.Length <= shape.Length;
        for (var i = 1; ok && i <= vs.Length; i++)
        {
            var a = vs[^i];
            var b = shape[^i];
            ok = a == 1 || a == b;
        }

        if (!ok)
        {
            throw new ArgumentException(
                $"{name} has shape [{string.Join(", ", vs)}]: expected a shape broadcastable to [{string.Join(", ", shape)}]",
                name);
        }
    }
}
