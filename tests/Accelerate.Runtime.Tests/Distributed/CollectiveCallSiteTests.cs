using Accelerate.Distributed.Collectives;

namespace Accelerate.Runtime.Tests.Distributed;

/// <summary>
/// Debug mode names where the user's code called a collective by the method the user wrote, also when the call
/// sits in a lambda, a local function or an async method (which compile to generated types and methods).
/// </summary>
[TestClass]
public sealed class CollectiveCallSiteTests
{
    [TestMethod]
    public void A_call_in_a_method_is_named_by_its_file_line_type_and_method()
    {
        StringAssert.Matches(CollectiveCall.FindCallSite(), new(@"^CollectiveCallSiteTests\.cs:\d+ in CollectiveCallSiteTests\.A_call_in_a_method_is_named_by_its_file_line_type_and_method$"));
    }

    [TestMethod]
    public void A_call_in_a_lambda_is_named_by_the_method_around_it()
    {
        Func<string> collective = () => CollectiveCall.FindCallSite();
        StringAssert.EndsWith(collective(), " in CollectiveCallSiteTests.A_call_in_a_lambda_is_named_by_the_method_around_it");
    }

    [TestMethod]
    public void A_call_in_a_capturing_lambda_is_named_by_the_method_around_it()
    {
        var step = 3;
        Func<string> collective = () => step > 0 ? CollectiveCall.FindCallSite() : "";
        StringAssert.EndsWith(collective(), " in CollectiveCallSiteTests.A_call_in_a_capturing_lambda_is_named_by_the_method_around_it");
    }

    [TestMethod]
    public void A_call_in_a_local_function_is_named_by_the_method_around_it()
    {
        string Reduce() => CollectiveCall.FindCallSite();
        StringAssert.EndsWith(Reduce(), " in CollectiveCallSiteTests.A_call_in_a_local_function_is_named_by_the_method_around_it");
    }

    [TestMethod]
    public async Task A_call_in_an_async_method_is_named_by_the_async_method()
    {
        await Task.Yield();
        StringAssert.EndsWith(CollectiveCall.FindCallSite(), " in CollectiveCallSiteTests.A_call_in_an_async_method_is_named_by_the_async_method");
    }
}
