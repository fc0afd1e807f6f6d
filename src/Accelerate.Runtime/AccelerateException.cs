namespace Accelerate;

/// <summary>
/// An error the runtime reports with a stable code (<c>ACC2xxx</c>) and a message that says what
/// went wrong and how to fix it.
/// </summary>
public class AccelerateException : Exception
{
    /// <summary>Creates an error with a code and a message that includes the fix.</summary>
    public AccelerateException(string code, string message, Exception? inner = null)
        : base($"{code}: {message}", inner)
    {
        Code = code;
    }

    /// <summary>The stable diagnostic code, e.g. <c>ACC2001</c>.</summary>
    public string Code { get; }
}
