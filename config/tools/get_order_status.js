// Plain JavaScript, so that production's `node dist/main.js` imports it without a TypeScript loader.
/**
 * Example read tool for the demo: looks an order up in a small in-memory table. A real deployment
 * would query its order system here (honouring `context.signal` so a timed-out lookup stops).
 */
/** @type {Record<string, { status: string, detail: string, eta?: string }>} */
const ORDERS = {
  4417: { status: 'shipped', detail: 'shipped from the Leeds warehouse', eta: 'Thursday' },
  4418: { status: 'processing', detail: 'being packed, ships tomorrow', eta: 'Monday' },
  4419: { status: 'delivered', detail: 'delivered to the front door on Tuesday' },
  4420: { status: 'cancelled', detail: "cancelled at the customer's request, refund issued" },
};

/** @type {import('../../src/tools/types.js').ToolHandler} */
const getOrderStatus = async (args, context) => {
  context.signal.throwIfAborted();
  // Callers read ids aloud: "order number 4 4 1 7" reaches us with spaces or a leading '#'.
  const orderId = String(args.order_id ?? '').replace(/[\s#-]/g, '');
  const order = ORDERS[orderId];
  if (!order) return { order_id: orderId, status: 'not_found' };
  return {
    order_id: orderId,
    status: order.status,
    detail: order.detail,
    ...(order.eta ? { arriving: order.eta } : {}),
  };
};

export default getOrderStatus;
