namespace Accelerate.Configuration;

/// <summary>A config file that cannot be read, parsed, validated or written. The message lists every problem found.</summary>
public sealed class ConfigFileException : Exception
{
    /// <summary>Creates the exception from the problems found (at least one).</summary>
    public ConfigFileException(IReadOnlyList<ConfigFileError> errors, Exception? inner = null)
        : base(string.Join(Environment.NewLine, errors.Select(e => e.ToString())), inner)
    {
        if (errors.Count == 0) throw new ArgumentException("At least one error is needed.", nameof(errors));
        Errors = errors;
    }

    /// <summary>Creates the exception for a single problem.</summary>
    public ConfigFileException(ConfigFileError error, Exception? inner = null) : this([error], inner) { }

    /// <summary>Every problem found, in file order.</summary>
    public IReadOnlyList<ConfigFileError> Errors { get; }

    /// <summary>The code of the first problem.</summary>
    public string Code => Errors[0].Code;
}
